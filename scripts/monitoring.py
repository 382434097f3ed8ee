#!/usr/bin/env python3
"""Checks deploy/grafana/vault-replicator-dashboard.json against deploy/grafana/dashboard.schema.json
(jsonschema), that its panel ids and targets' refIds are unique, and that every PromQL expression
in the dashboard and in deploy/prometheus/vault-replicator-rules.yaml names only metrics that
src/metrics.rs pushes (the rules themselves are checked by promtool, in scripts/monitoring.sh),
and that the Prometheus Operator's PrometheusRule holds exactly the rules file's groups.
--self-test: also checks that a dashboard with an unknown metric or a missing field is refused."""
import copy
import json
import re
import sys
from pathlib import Path

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = ROOT / "deploy/grafana/vault-replicator-dashboard.json"
SCHEMA = ROOT / "deploy/grafana/dashboard.schema.json"
RULES = ROOT / "deploy/prometheus/vault-replicator-rules.yaml"
OPERATOR_RULE = ROOT / "deploy/prometheus/vault-replicator-prometheusrule.yaml"
METRIC = re.compile(r"\bvault_replicator_[a-z_]+\b")


def pushed_metrics():
    """The metric names src/metrics.rs writes: its string literals that start vault_replicator_."""
    source = (ROOT / "src/metrics.rs").read_text()
    return set(re.findall(r'"(vault_replicator_[a-z_]+)"', source))


def expressions(dashboard):
    for panel in dashboard.get("panels", []):
        for target in panel.get("targets", []):
            yield f"panel {panel.get('title')!r}", target.get("expr", "")
    for var in dashboard.get("templating", {}).get("list", []):
        if var.get("type") == "query":
            yield f"variable {var.get('name')!r}", var.get("query", "")


def problems(dashboard, rules, schema, known):
    errors = [f"schema: {'/'.join(map(str, e.path))}: {e.message}"
              for e in jsonschema.Draft202012Validator(schema).iter_errors(dashboard)]
    ids = [p.get("id") for p in dashboard.get("panels", [])]
    if len(ids) != len(set(ids)):
        errors.append(f"panel ids are not unique: {ids}")
    for panel in dashboard.get("panels", []):
        refs = [t.get("refId") for t in panel.get("targets", [])]
        if len(refs) != len(set(refs)):
            errors.append(f"panel {panel.get('title')!r}: refIds are not unique: {refs}")
    exprs = list(expressions(dashboard))
    for group in rules.get("groups", []):
        for rule in group.get("rules", []):
            exprs.append((f"rule {rule.get('alert') or rule.get('record')!r}", rule.get("expr", "")))
    for where, expr in exprs:
        named = set(METRIC.findall(expr))
        if not named:
            errors.append(f"{where}: `{expr}` names no vault_replicator_ metric")
        for name in sorted(named - known):
            errors.append(f"{where}: `{name}` is not a metric src/metrics.rs pushes")
    return errors


def self_test(dashboard, rules, schema, known):
    broken = copy.deepcopy(dashboard)
    broken["panels"][0]["targets"][0]["expr"] = "vault_replicator_no_such_metric"
    del broken["panels"][1]["gridPos"]
    found = problems(broken, rules, schema, known)
    ok = any("no_such_metric" in e for e in found) and any("gridPos" in e for e in found)
    return [] if ok else [f"self-test: deliberate breaks were not caught: {found}"]


def main():
    dashboard = json.loads(DASHBOARD.read_text())
    schema = json.loads(SCHEMA.read_text())
    rules = yaml.safe_load(RULES.read_text())
    known = pushed_metrics()
    if len(known) < 5:
        print(f"monitoring: found only {sorted(known)} in src/metrics.rs", file=sys.stderr)
        return 1
    errors = problems(dashboard, rules, schema, known)
    operator = yaml.safe_load(OPERATOR_RULE.read_text())
    if operator.get("kind") != "PrometheusRule" or operator.get("spec") != rules:
        errors.append(f"{OPERATOR_RULE.name}: its spec is not exactly the groups of {RULES.name}")
    if "--self-test" in sys.argv[1:]:
        errors += self_test(dashboard, rules, schema, known)
    for e in errors:
        print(f"monitoring: {e}", file=sys.stderr)
    if not errors:
        print(f"monitoring: dashboard ({len(dashboard['panels'])} panels) matches its schema; "
              f"dashboard and rules use only the {len(known)} metrics src/metrics.rs pushes; "
              f"the PrometheusRule holds the same groups as the rules file")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
