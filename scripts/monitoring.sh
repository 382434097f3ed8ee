#!/usr/bin/env bash
# Checks what deploy/ ships for monitoring: `promtool check rules` and `promtool test rules` on
# deploy/prometheus/, then scripts/monitoring.py (the Grafana dashboard against its JSON schema;
# every expression names only metrics src/metrics.rs pushes). Installs what is missing:
#   promtool   - from Debian's `prometheus` package, fetched with `apt-get download` and unpacked
#                (dpkg -x) into ~/.cache/vault-replicator/prometheus: no service is installed.
#   jsonschema - PyPI; and PyYAML.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.local/bin:$PATH"

JSONSCHEMA_VERSION=4.26.0
PYYAML_VERSION=6.0.3
cache="$HOME/.cache/vault-replicator/prometheus"
started=$(date +%s%N)

pip_install() {
  python3 -m pip install --quiet --disable-pip-version-check "$@"
}
python3 -c 'import yaml' 2>/dev/null || { echo "monitoring: installing PyYAML $PYYAML_VERSION (PyPI)"; pip_install "PyYAML==$PYYAML_VERSION"; }
python3 -c 'import jsonschema' 2>/dev/null || { echo "monitoring: installing jsonschema $JSONSCHEMA_VERSION (PyPI)"; pip_install "jsonschema==$JSONSCHEMA_VERSION"; }

promtool=$(command -v promtool || true)
if [ -z "$promtool" ]; then
  promtool="$cache/usr/bin/promtool"
  if [ ! -x "$promtool" ]; then
    echo "monitoring: fetching promtool (Debian package prometheus)"
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    # apt drops to the _apt user to download: give it a directory it may write.
    chmod 777 "$work"
    if ! (cd "$work" && apt-get download -q prometheus >/dev/null 2>&1); then
      apt-get update -q >/dev/null
      (cd "$work" && apt-get download -q prometheus >/dev/null)
    fi
    rm -rf "$cache" && mkdir -p "$cache"
    dpkg -x "$work"/prometheus_*.deb "$work/x"
    mkdir -p "$cache/usr/bin" && cp "$work/x/usr/bin/promtool" "$cache/usr/bin/promtool"
  fi
fi

"$promtool" check rules deploy/prometheus/vault-replicator-rules.yaml
(cd deploy/prometheus && "$promtool" test rules vault-replicator-rules.test.yaml)
python3 scripts/monitoring.py --self-test

elapsed=$((($(date +%s%N) - started) / 1000000))
echo "monitoring: ok ($("$promtool" --version 2>&1 | head -1)) in $((elapsed / 1000)).$(printf '%03d' $((elapsed % 1000)))s"
