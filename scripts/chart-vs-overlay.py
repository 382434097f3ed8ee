#!/usr/bin/env python3
"""Compares what the Helm chart renders with what the matching kustomize overlay renders, so that
charts/vault-replicator and k8s/ cannot drift apart. Input: a directory of rendered multi-document
YAML files, `chart-<values>.yaml` (helm template with charts/vault-replicator/ci/<values>-values.yaml)
and `<overlay>.yaml` (kubectl kustomize), as scripts/k8s-validate.sh writes them.

For each pair in PAIRS it compares, per side:
- the CronJob's whole `spec` (schedule, suspend, job settings, the pod spec), with the container's
  `envFrom` ConfigMap resolved into its values and merged with `env`, so that the effective
  environment is compared, not where it is written;
- the NetworkPolicy's `spec` and the ServiceAccount's automountServiceAccountToken.
Normalised, because they legitimately differ: object names (ServiceAccount and ConfigMap names are
replaced by placeholders), labels other than app.kubernetes.io/name and /component (the chart's
NetworkPolicy also selects on app.kubernetes.io/instance), the key Secrets of the `both` example
(one per side; the overlays, one side per cluster, share a name: RENAMES), and YAML comments. The
chart is rendered with the overlays' S3 endpoint (scripts/k8s-validate.sh); the image is the
chart's default in both. Anything else that differs is reported with its path, and the script
exits 1.

--self-test also breaks copies of the chart's rendering in several ways and fails unless every
break is reported (the comparison must catch a real difference).

Usage: chart-vs-overlay.py --rendered DIR [--self-test]
"""

import argparse
import copy
import os
import sys

import yaml

# values file -> {side (the CronJob's app.kubernetes.io/component): overlay it must match}; the
# chart must render exactly these sides' CronJobs.
PAIRS = {
    "dc": {"export": "dc"},
    "dr": {"import": "dr", "full-check": "dr"},
    "failback-dr-export": {"export": "failback-dr-export"},
    "failback-dc-import": {"import": "failback-dc-import"},
    "dr-irsa": {"import": "dr-irsa", "full-check": "dr-irsa"},
    "both": {"export": "dc", "import": "dr", "full-check": "dr"},
}
# Both sides in one release take a key Secret each (the chart refuses one for both); the overlays,
# one side per cluster, name both vault-replicator-keys. {values: {chart's name: overlay's}}.
RENAMES = {"both": {"vault-replicator-export-keys": "vault-replicator-keys",
                    "vault-replicator-import-keys": "vault-replicator-keys"}}
KEPT_LABELS = {"app.kubernetes.io/name", "app.kubernetes.io/component"}


def load(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def of_kind(objs, kind):
    return [o for o in objs if o.get("kind") == kind]


def cronjob(objs, side):
    found = [o for o in of_kind(objs, "CronJob") if (o["metadata"].get("labels") or {}).get("app.kubernetes.io/component") == side]
    if len(found) != 1:
        raise SystemExit(f"chart-vs-overlay: expected one {side} CronJob, found {len(found)}")
    return found[0]


def normalise_cronjob(cj, objs):
    spec = copy.deepcopy(cj["spec"])
    tmpl = spec["jobTemplate"]["spec"]["template"]
    labels = tmpl.get("metadata", {}).get("labels") or {}
    tmpl.setdefault("metadata", {})["labels"] = {k: v for k, v in labels.items() if k in KEPT_LABELS}
    pod = tmpl["spec"]
    pod["serviceAccountName"] = "<serviceaccount>"
    configs = {o["metadata"]["name"]: o.get("data") or {} for o in of_kind(objs, "ConfigMap")}
    for ctr in pod.get("containers", []) + pod.get("initContainers", []):
        env = {}
        for src in ctr.pop("envFrom", None) or []:
            ref = src.get("configMapRef")
            if not ref or ref.get("name") not in configs:
                env[f"<envFrom {src}>"] = "unresolved"
                continue
            for k, v in configs[ref["name"]].items():
                env[k] = {"value": v}
        for e in ctr.get("env") or []:
            env[e["name"]] = {k: v for k, v in e.items() if k != "name"}
        ctr["env"] = env
    # The order of volumes and mounts does not matter to Kubernetes.
    pod["volumes"] = {v["name"]: v for v in pod.get("volumes") or []}
    for ctr in pod.get("containers", []):
        ctr["volumeMounts"] = {m["mountPath"]: m for m in ctr.get("volumeMounts") or []}
    return spec


def renamed(obj, names):
    """obj with every string equal to a key of names replaced by its value."""
    if isinstance(obj, dict):
        return {k: renamed(v, names) for k, v in obj.items()}
    if isinstance(obj, list):
        return [renamed(v, names) for v in obj]
    return names.get(obj, obj) if isinstance(obj, str) else obj


def normalise_networkpolicy(spec):
    """The chart's policy also selects on app.kubernetes.io/instance (its release's pods only); an
    overlay's, one per namespace, on the name alone. Only that label is dropped."""
    spec = copy.deepcopy(spec)
    if isinstance(spec, dict):
        (spec.get("podSelector") or {}).get("matchLabels", {}).pop("app.kubernetes.io/instance", None)
    return spec


def diff(a, b, path=""):
    """Paths where a (chart) and b (overlay) differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b), key=str):
            p = f"{path}.{k}" if path else str(k)
            if k not in a:
                out.append(f"{p}: only in the overlay ({b[k]!r})")
            elif k not in b:
                out.append(f"{p}: only in the chart ({a[k]!r})")
            else:
                out += diff(a[k], b[k], p)
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in diff(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: chart {a!r}, overlay {b!r}"]


def compare(chart, overlay, sides):
    """Differences between a chart rendering and overlay renderings ({side: objects})."""
    out = []
    rendered = sorted((o["metadata"].get("labels") or {}).get("app.kubernetes.io/component", "?")
                      for o in of_kind(chart, "CronJob"))
    if rendered != sorted(sides):
        return [f"the chart renders the CronJobs of {rendered}; expected {sorted(sides)}"]
    for side, objs in sides.items():
        a = normalise_cronjob(cronjob(chart, side), chart)
        b = normalise_cronjob(cronjob(objs, side), objs)
        out += [f"CronJob {side}: {d}" for d in diff(a, b)]
        for kind, field in (("NetworkPolicy", "spec"), ("ServiceAccount", "automountServiceAccountToken")):
            ca, ob = of_kind(chart, kind), of_kind(objs, kind)
            if len(ca) != 1 or len(ob) != 1:
                out.append(f"{kind}: chart renders {len(ca)}, overlay {len(ob)}")
                continue
            a, b = ca[0].get(field), ob[0].get(field)
            if kind == "NetworkPolicy":
                a = normalise_networkpolicy(a)
            out += [f"{kind}: {d}" for d in diff(a, b, field)]
    return out


def breaks(chart):
    """Copies of a chart rendering, each with one real difference."""
    def pod(objs):
        return of_kind(objs, "CronJob")[0]["spec"]["jobTemplate"]["spec"]["template"]["spec"]

    def config(objs):
        return of_kind(objs, "ConfigMap")[0]["data"]

    def set_in(f):
        objs = copy.deepcopy(chart)
        f(objs)
        return objs

    yield "runAsUser 0", set_in(lambda o: pod(o)["securityContext"].update(runAsUser=0))
    yield "a ConfigMap value", set_in(lambda o: config(o).update(REPLICATOR_MAX_AGE="99h"))
    yield "an extra ConfigMap variable", set_in(lambda o: config(o).update(REPLICATOR_PRUNE="true"))
    yield "an env entry dropped", set_in(lambda o: pod(o)["containers"][0]["env"].pop())
    yield "the memory limit", set_in(lambda o: pod(o)["containers"][0]["resources"]["limits"].update(memory="1Gi"))
    yield "the schedule", set_in(lambda o: of_kind(o, "CronJob")[0]["spec"].update(schedule="0 0 1 1 *"))
    yield "a CronJob dropped", set_in(lambda o: o.remove(of_kind(o, "CronJob")[-1]))
    yield "a volume", set_in(lambda o: pod(o)["volumes"].pop())
    yield "a NetworkPolicy rule", set_in(lambda o: of_kind(o, "NetworkPolicy")[0]["spec"]["egress"].pop())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rendered", required=True)
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args()
    failed = 0
    for values, sides in PAIRS.items():
        chart = renamed(load(os.path.join(args.rendered, f"chart-{values}.yaml")), RENAMES.get(values, {}))
        overlays = {side: load(os.path.join(args.rendered, f"{o}.yaml")) for side, o in sides.items()}
        problems = compare(chart, overlays, overlays)
        where = f"ci/{values}-values.yaml vs " + ", ".join(f"overlays/{o} ({s})" for s, o in sides.items())
        for p in problems:
            print(f"chart-vs-overlay: {where}: {p}", file=sys.stderr)
        failed += bool(problems)
        if args.self_test and not problems:
            for what, broken in breaks(chart):
                if not compare(broken, overlays, overlays):
                    print(f"chart-vs-overlay: self-test: {what} changed in the chart's rendering of "
                          f"{values} was NOT reported", file=sys.stderr)
                    failed += 1
    if failed:
        print("chart-vs-overlay: FAILED", file=sys.stderr)
        return 1
    print(f"chart-vs-overlay: {len(PAIRS)} chart renderings match their overlays (CronJob spec with the "
          f"effective environment, NetworkPolicy, ServiceAccount)"
          + ("; self-test: every deliberate break was reported" if args.self_test else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
