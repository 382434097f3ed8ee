#!/usr/bin/env python3
"""Checks the Helm chart's renderings (one multi-document YAML file each, as written by
scripts/k8s-validate.sh), with the helpers of scripts/k8s-check.py:

- each charts/vault-replicator/ci/<values>-values.yaml rendering (chart-<values>.yaml, release
  vault-replicator) and chart-variant.yaml (ci/alerts-values.yaml with export.resources,
  import.maxAge and prometheusRule.drDataStaleAfter set) pass every check k8s-check.py makes of
  the overlay it stands for (k8s-check.py check_rendering: schemas, CronJobs, ConfigMaps,
  ServiceAccounts, NetworkPolicies, Secret templates), and also:
- the pods are labelled with the release (app.kubernetes.io/instance) and the NetworkPolicy
  selects on it;
- each side's resources are the top-level `resources` with the side's merged over them
  (chart-variant: export.resources.limits.memory 2Gi);
- with both sides in one release, no import pod reads the Secret the export takes its signing
  key from;
- each scheduled side has a `helm test` pod (helm.sh/hook: test), `status` with that side's pod
  spec; a suspended rendering has none;
- the OpenShift example (ci/openshift-values.yaml) sets no runAsUser, runAsGroup or fsGroup;
- the PrometheusRule's thresholds follow the values (maxAge, drDataStaleAfter), every alert has
  a runbook_url and a severity and selects its release, and an absent() alert covers each side;
- two releases in one namespace (two-releases.yaml: vr-a and vr-b with ci/alerts-values.yaml):
  every object valid, no kind/namespace/name twice, every object, pod and NetworkPolicy selector
  with its own release's instance label;
- the packaged chart rendered with its defaults (chart-package.yaml): valid, the default image
  ghcr.io/vault-replicator/vault-replicator, the default resources.

k8s-validate.sh checks the chart's files (placeholders, the dashboard copy, NOTES.txt, the
package's contents); scripts/chart-vs-overlay.py compares the renderings with the overlays'.

Usage: chart-check.py --rendered DIR [--k8s-version 1.30.0 ...] [--verbose]
"""

import copy
import importlib
import posixpath
import re
import sys

sys.dont_write_bytecode = True  # no scripts/__pycache__ from the import below
k8s = importlib.import_module("k8s-check")  # scripts/k8s-check.py, next to this file
dig, load_all, validate_schema, SAME_POD = k8s.dig, k8s.load_all, k8s.validate_schema, k8s.SAME_POD

# The release name k8s-validate.sh renders the chart's examples with (label app.kubernetes.io/instance).
RELEASE = "vault-replicator"
# The chart's defaults for every side (the top-level `resources`).
DEFAULT_RESOURCES = {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"memory": "512Mi"}}

# What each chart rendering must render: chart-<values> for ci/<values>-values.yaml, against the
# expectations of the overlay it stands for (k8s-check.py OVERLAYS) where there is one.
CHART = {"chart-" + name: k8s.OVERLAYS[name]
         for name in ("dc", "dr", "failback-dr-export", "failback-dc-import", "dr-irsa")}
CHART["chart-both"] = {
    "sides": {"export": "vault-replicator-exporter", "import": "vault-replicator-importer",
              "full-check": "vault-replicator-importer"},
    "suffix": "",
    "suspend": False,
    "run_as": 65532,
    "store": "s3://vault-snapshots/dc",
    "templates": ["base/secrets.template.yaml", "base/export/keys-secret.template.yaml",
                  "base/import/keys-secret.template.yaml"],
    # Both sides in one release take a key Secret each (the chart refuses one for both): each is
    # the template's Secret under another name, {name: (template file, the template's Secret)}.
    "aliases": {
        "vault-replicator-export-keys": ("base/export/keys-secret.template.yaml", "vault-replicator-keys"),
        "vault-replicator-import-keys": ("base/import/keys-secret.template.yaml", "vault-replicator-keys"),
    },
}
# ci/alerts-values.yaml: both, with the PrometheusRule and the dashboard; chart-variant: the same
# with export.resources.limits.memory 2Gi, import.maxAge 1h, prometheusRule.drDataStaleAfter 20m.
CHART["chart-alerts"] = dict(CHART["chart-both"], alerts={"export": "40m", "import": "40m", "data": "15m"})
CHART["chart-variant"] = dict(CHART["chart-both"], alerts={"export": "40m", "import": "1h", "data": "20m"},
                              memory={"export": "2Gi", "import": "512Mi", "full-check": "512Mi"})
# ci/openshift-values.yaml: DR without the fixed user, group and fsGroup (restricted SCC).
CHART["chart-openshift"] = dict(k8s.OVERLAYS["dr"], run_as=None, openshift=True)
FIXED_IDS = ("runAsUser", "runAsGroup", "fsGroup")


def check_chart_cronjob(c, where, cj, exp, side):
    """The release's instance label on the pods; the side's resources; OpenShift: no fixed IDs."""
    pod = dig(cj, "spec.jobTemplate.spec.template.spec", {})
    e = c.expect
    e(dig(cj, "spec.jobTemplate.spec.template.metadata.labels", {}).get("app.kubernetes.io/instance") == RELEASE,
      where, f"pod template lacks app.kubernetes.io/instance: {RELEASE} (the NetworkPolicy)")
    memory = (exp.get("memory") or {}).get(side)
    resources = ((pod.get("containers") or [{}])[0]).get("resources")
    want = DEFAULT_RESOURCES if not memory else {**DEFAULT_RESOURCES, "limits": {"memory": memory}}
    e(resources == want, where, f"resources {resources} are not {want} (the top-level `resources` with "
      "the side's merged over it)")
    if exp.get("openshift"):
        # OpenShift's restricted SCC assigns them; a fixed one outside its range is refused.
        for field in FIXED_IDS:
            e(field not in (pod.get("securityContext") or {}), where, f"pod {field} is set (OpenShift)")
            for ctr in pod.get("containers") or []:
                e(field not in (ctr.get("securityContext") or {}), where, f"container {field} is set (OpenShift)")


def pod_secrets(pod):
    """The Secrets a pod spec reads: secret volumes, projected secrets, secretKeyRef, envFrom."""
    names = set()
    for v in pod.get("volumes") or []:
        names.add(dig(v, "secret.secretName"))
        names.update(dig(src, "secret.name") for src in dig(v, "projected.sources", []))
    for ctr in (pod.get("containers") or []) + (pod.get("initContainers") or []):
        names.update(dig(e, "valueFrom.secretKeyRef.name") for e in ctr.get("env") or [])
        names.update(dig(e, "secretRef.name") for e in ctr.get("envFrom") or [])
    return names - {None}


def check_key_secrets_apart(c, where, cronjobs, configs):
    """With both sides rendered, no import pod reads the Secret the export mounts its keys from."""
    pods = {dig(cj, "metadata.labels", {}).get("app.kubernetes.io/component"): dig(cj, "spec.jobTemplate.spec.template.spec", {})
            for cj in cronjobs}
    if "export" not in pods or "import" not in pods:
        return
    export = pods["export"]
    ctr = (export.get("containers") or [{}])[0]
    refs = [r.get("configMapRef", {}).get("name") for r in ctr.get("envFrom") or []]
    data = (configs.get(refs[0]) or {}).get("data") or {} if refs else {}
    key_dir = posixpath.dirname(data.get("REPLICATOR_SIGNING_KEY_FILE", ""))
    mount = next((m for m in ctr.get("volumeMounts") or [] if m.get("mountPath") == key_dir), {})
    volume = next((v for v in export.get("volumes") or [] if v.get("name") == mount.get("name")), {})
    keys = dig(volume, "secret.secretName")
    if not c.expect(keys, where, "the export's signing key is not in a mounted Secret"):
        return
    for side in ("import", "full-check"):
        if side in pods:
            c.expect(keys not in pod_secrets(pods[side]), f"{where}: CronJob {side}",
                     f"reads Secret {keys}, which holds the export's signing key")


def check_test_pods(c, where, cronjobs, pods, exp):
    """`helm test`: one pod per scheduled side, `status` with that side's pod spec otherwise."""
    by_side = {dig(cj, "metadata.labels", {}).get("app.kubernetes.io/component"): cj for cj in cronjobs}
    scheduled = sorted(side for side in exp["sides"] if side not in SAME_POD and not exp["suspend"])
    tests = {dig(p, "metadata.labels", {}).get("app.kubernetes.io/component", "").removesuffix("-test"): p for p in pods}
    c.expect(sorted(tests) == scheduled, where, f"helm test pods for {sorted(tests)}; expected {scheduled}")
    for side, pod in tests.items():
        pw = f"{where}: Pod {dig(pod, 'metadata.name')}"
        c.expect(dig(pod, "metadata.annotations", {}).get("helm.sh/hook") == "test", pw, "is not a helm.sh/hook: test")
        c.expect(dig(pod, "metadata.labels", {}).get("app.kubernetes.io/instance") == RELEASE, pw,
                 "lacks app.kubernetes.io/instance")
        if side not in by_side:
            continue
        a = copy.deepcopy(pod.get("spec") or {})
        b = copy.deepcopy(dig(by_side[side], "spec.jobTemplate.spec.template.spec", {}))
        c.expect((a.get("containers") or [{}])[0].get("args") == ["status"], pw, "args are not [status]")
        a.pop("activeDeadlineSeconds", None)
        for spec in (a, b):
            for ctr in spec.get("containers") or []:
                ctr.pop("args", None)
        c.expect(a == b, pw, f"differs from the {side} CronJob's pod in more than args and activeDeadlineSeconds")


def promql_threshold(expr):
    """The number an expression `... > N` compares with."""
    m = re.search(r">\s*([0-9]+)\s*$", expr or "")
    return int(m.group(1)) if m else None


def check_prometheusrule(c, where, rule, alerts):
    """Thresholds from the values: {export, import: maxAge, data: drDataStaleAfter}; every alert
    with a runbook_url and a severity; the absent-series alert per side."""
    rules = [r for g in dig(rule, "spec.groups", []) for r in g.get("rules") or []]
    by_name = {}
    for r in rules:
        by_name.setdefault(r.get("alert"), []).append(r)
        aw = f"{where}: {r.get('alert')}"
        c.expect(str(dig(r, "annotations.runbook_url", "")).startswith("https://"), aw, "has no runbook_url")
        c.expect(dig(r, "labels.severity") in ("critical", "warning"), aw, "has no severity")
        c.expect('prefix="' in r.get("expr", "") and 'instance="' in r.get("expr", ""), aw,
                 "does not select this release's instance and prefix")
    want = {
        "VaultReplicatorDRDataStale": k8s.duration_seconds(alerts["data"]),
        "VaultReplicatorExportStale": k8s.duration_seconds(alerts["export"]),
        "VaultReplicatorImportStale": k8s.duration_seconds(alerts["import"]),
    }
    for name, seconds in want.items():
        found = [promql_threshold(r.get("expr")) for r in by_name.get(name, [])]
        c.expect(found == [seconds], f"{where}: {name}", f"threshold {found}, expected [{seconds}] (from the values)")
    absent = sorted(r.get("expr", "").split("{")[0] for r in by_name.get("VaultReplicatorMetricsAbsent", []))
    c.expect(absent == ["absent(vault_replicator_import_data_timestamp_seconds",
                        "absent(vault_replicator_last_success_timestamp_seconds"], f"{where}: VaultReplicatorMetricsAbsent",
             f"expected absent() on the import's data timestamp and the export's last success, got {absent}")
    fors = sorted(r.get("for") for r in by_name.get("VaultReplicatorMetricsAbsent", []))
    c.expect(fors == sorted([alerts["export"], alerts["import"]]), f"{where}: VaultReplicatorMetricsAbsent",
             f"`for` {fors} is not the sides' maxAge")


def check_two_releases(c, path, versions):
    """Two releases (vr-a, vr-b) in one namespace: no (kind, namespace, name) twice, every pod
    labelled with its release, each NetworkPolicy selecting its own release's pods."""
    where = "two releases in one namespace"
    objs = load_all(path)
    seen = {}
    for obj in objs:
        key = (obj.get("kind"), dig(obj, "metadata.namespace"), dig(obj, "metadata.name"))
        release = dig(obj, "metadata.labels", {}).get("app.kubernetes.io/instance")
        c.expect(key not in seen, where, f"{key} rendered by {seen.get(key)} and {release}")
        seen[key] = release
        c.expect(release in ("vr-a", "vr-b"), where, f"{key}: no app.kubernetes.io/instance of either release")
        if obj.get("kind") not in k8s.CRD_KINDS:
            validate_schema(c, f"{where}: {key}", obj, versions)
        pod_labels = {"CronJob": "spec.jobTemplate.spec.template.metadata.labels", "Pod": "metadata.labels",
                      "NetworkPolicy": "spec.podSelector.matchLabels"}.get(obj.get("kind"))
        if pod_labels:
            c.expect(dig(obj, pod_labels, {}).get("app.kubernetes.io/instance") == release, where,
                     f"{key}: the pods' (or selected pods') app.kubernetes.io/instance is not {release}")
    c.expect(len(seen) > 10, where, f"only {len(seen)} objects rendered")


def check_package(c, path, versions):
    """The packaged chart rendered with its defaults: valid, the real image, no placeholder."""
    where = "packaged chart (defaults)"
    for obj in load_all(path):
        validate_schema(c, f"{where}: {obj.get('kind')} {dig(obj, 'metadata.name')}", obj, versions)
        pod = dig(obj, "spec.jobTemplate.spec.template.spec") or (obj.get("spec") if obj.get("kind") == "Pod" else None)
        for ctr in (pod or {}).get("containers") or []:
            c.expect(ctr.get("image", "").startswith("ghcr.io/vault-replicator/vault-replicator:"), where,
                     f"image {ctr.get('image')} is not the default ghcr.io/vault-replicator/vault-replicator")
            c.expect(ctr.get("resources") == DEFAULT_RESOURCES, where, "resources are not the top-level defaults")


def check_chart_rendering(c, name, path, exp, inputs):
    """k8s-check.py's checks of a rendering, with the chart's `helm test` pods (and, with alerts,
    its PrometheusRule) as further kinds, then the chart's own."""
    where = f"chart ci/{name.removeprefix('chart-')}-values.yaml"
    if name == "chart-variant":
        where = "chart variant (ci/alerts-values.yaml, export.resources, import.maxAge, drDataStaleAfter)"
    if exp.get("openshift"):
        with open(path) as f:
            fixed = sorted(set(re.findall(r"\b(" + "|".join(FIXED_IDS) + r"):", f.read())))
        c.expect(not fixed, where, f"sets {fixed}: OpenShift's restricted SCC assigns them")
    extra = ({"Pod"} if not exp["suspend"] else set()) | ({"PrometheusRule"} if exp.get("alerts") else set())
    by_kind, configs = k8s.check_rendering(c, name, where, path, exp, inputs, extra, RELEASE)
    cronjobs = by_kind.get("CronJob", [])
    for cj in cronjobs:
        side = dig(cj, "metadata.labels", {}).get("app.kubernetes.io/component")
        if side in exp["sides"]:
            check_chart_cronjob(c, f"{where}: CronJob {dig(cj, 'metadata.name')}", cj, exp, side)
    check_key_secrets_apart(c, where, cronjobs, configs)
    check_test_pods(c, where, cronjobs, by_kind.get("Pod", []), exp)
    if exp.get("alerts"):
        rules = by_kind.get("PrometheusRule", [])
        if c.expect(len(rules) == 1, where, "expected one PrometheusRule"):
            check_prometheusrule(c, f"{where}: PrometheusRule", rules[0], exp["alerts"])


def main():
    args, inputs = k8s.parse_args(__doc__)
    c = k8s.Checker()
    for name, exp in sorted(CHART.items()):
        path = k8s.rendered(c, args, name, name)
        if path:
            check_chart_rendering(c, name, path, exp, inputs)
    for name, check in (("two-releases", check_two_releases), ("chart-package", check_package)):
        path = k8s.rendered(c, args, name, name)
        if path:
            check(c, path, inputs.versions)
    return k8s.report(c, "chart-check", f"{len(CHART)} chart renderings ({' '.join(sorted(CHART))}), two releases "
                      f"in one namespace and the package's defaults valid (strict) against Kubernetes "
                      f"{', '.join(inputs.versions)}; the overlays' checks, release labels, resources, helm test "
                      "pods, key Secrets, PrometheusRule checks passed")


if __name__ == "__main__":
    sys.exit(main())
