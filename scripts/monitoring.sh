#!/usr/bin/env bash
# Checks what deploy/ ships for monitoring: `promtool check rules` and `promtool test rules` on
# deploy/prometheus/, then scripts/monitoring.py (the Grafana dashboard against its JSON schema;
# every expression names only metrics src/metrics.rs pushes), then the Helm chart's
# PrometheusRule: promtool check and test, and the same alerts and thresholds as deploy/'s.
# Installs what is missing (helm: scripts/tools.sh):
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

"$promtool" check rules --lint-fatal deploy/prometheus/vault-replicator-rules.yaml
(cd deploy/prometheus && "$promtool" test rules vault-replicator-rules.test.yaml)
python3 scripts/monitoring.py --self-test

# The chart's PrometheusRule (ci/alerts-values.yaml: both sides, default thresholds): promtool
# check and test (deploy/prometheus/vault-replicator-chart-rules.test.yaml), and the same alerts,
# severities, `for` and thresholds as vault-replicator-rules.yaml.
chart_rules=$(mktemp -d)
trap 'rm -rf "$chart_rules" ${work:+"$work"}' EXIT
bash scripts/tools.sh helm template vault-replicator charts/vault-replicator --namespace vault \
  -f charts/vault-replicator/ci/alerts-values.yaml --show-only templates/prometheusrule.yaml >"$chart_rules/rule.yaml"
python3 - "$chart_rules" <<'PY'
import re, sys, yaml
out = sys.argv[1]
rule = yaml.safe_load(open(f"{out}/rule.yaml"))
yaml.safe_dump({"groups": rule["spec"]["groups"]}, open(f"{out}/chart-rules.yaml", "w"))
static = yaml.safe_load(open("deploy/prometheus/vault-replicator-rules.yaml"))["groups"]

def summary(groups):
    """{alert: sorted (severity, for, threshold)} with the threshold of `... > N` evaluated."""
    found = {}
    for r in (r for g in groups for r in g["rules"]):
        m = re.search(r">\s*([0-9 *]+)$", r["expr"])
        threshold = eval(m.group(1)) if m else None  # digits and * only
        found.setdefault(r["alert"], []).append((r["labels"]["severity"], r.get("for"), threshold))
    return {k: sorted(set(v), key=str) for k, v in found.items()}

a, b = summary(rule["spec"]["groups"]), summary(static)
if a != b:
    sys.exit(f"monitoring: the chart's PrometheusRule (ci/alerts-values.yaml) and vault-replicator-rules.yaml "
             f"differ:\n  chart:  {a}\n  deploy: {b}")
print(f"monitoring: the chart's PrometheusRule matches vault-replicator-rules.yaml ({len(a)} alerts: "
      "severity, for, thresholds)")
PY
"$promtool" check rules --lint-fatal "$chart_rules/chart-rules.yaml"
cp deploy/prometheus/vault-replicator-chart-rules.test.yaml "$chart_rules/"
(cd "$chart_rules" && "$promtool" test rules vault-replicator-chart-rules.test.yaml)

elapsed=$((($(date +%s%N) - started) / 1000000))
echo "monitoring: ok ($("$promtool" --version 2>&1 | head -1)) in $((elapsed / 1000)).$(printf '%03d' $((elapsed % 1000)))s"
