#!/usr/bin/env python3
"""Checks the rendered kustomize overlays (one multi-document YAML file per overlay, as written by
scripts/k8s-validate.sh) and the Secret templates under k8s/:

- every object against the Kubernetes OpenAPI schemas, strict (unknown fields are errors), with
  kubernetes-validate, for each --k8s-version;
- each overlay renders exactly the CronJob it should (dc: export only, dr: import only, the
  failback overlays suspended), with the settings the deployment relies on (Forbid, an explicit
  suspend, restartPolicy Never, non-root and read-only, resources, no host access, the projected
  Vault token, the in-memory /tmp, ...);
- every environment variable set is one the binary reads (src/config) or is about to read;
- REPLICATOR_MAX_AGE of each scheduled CronJob that keeps the data fresh (export, import) exceeds
  its schedule's longest interval plus the Job's activeDeadlineSeconds (otherwise the `status`
  alert fires between two healthy runs); startingDeadlineSeconds is under the shortest interval;
- the import lease: REPLICATOR_LEASE_WAIT exceeds REPLICATOR_LEASE_TTL (an import waits a killed
  one's lease out instead of exiting 1), both set, and the import's deadline leaves 5 minutes of
  run after the wait;
- the daily full check (CronJob vault-replicator-import-full-check) is the import's pod with
  `--full-check`, nothing else differs but its schedule and deadlines, and it starts at a minute
  the 5-minute import does not;
- the S3 keys come from the S3 Secret, except in the IRSA rendering (dr-irsa), which must have none;
- every Secret and key the CronJobs use has a template, the templates hold placeholders only,
  and no overlay renders a Secret (so `kubectl apply -k` never overwrites real keys).

scripts/chart-check.py imports this file and runs the same checks (check_rendering) on the Helm
chart's renderings, plus the chart's own.

Usage: k8s-check.py --rendered DIR [--k8s-version 1.30.0 ...] [--verbose]
"""

import argparse
import collections
import copy
import glob
import os
import posixpath
import re
import sys

import kubernetes_validate
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAMESPACE = "vault"
LABELS = {"app.kubernetes.io/name": "vault-replicator", "app.kubernetes.io/part-of": "vault"}
PLACEHOLDER = "REPLACE_ME"
IMAGE = re.compile(r"^[^@:\s]+(:[\w][\w.-]*)?(@sha256:[0-9a-f]{64})?$")

SIDES = {
    "export": {
        "name": "export",
        "args": ["export"],
        "schedule": "*/5 * * * *",
        "starting": 240,
        "deadline": 1800,
        "max_age_rule": True,
        "key_file_var": "REPLICATOR_SIGNING_KEY_FILE",
        "key_env": ("REPLICATOR_AGE_RECIPIENTS", "age-recipients"),
        "not_env": ("REPLICATOR_AGE_IDENTITY_FILE", "REPLICATOR_VERIFY_KEY"),
    },
    "import": {
        "name": "import",
        "args": ["import"],
        "schedule": "2-59/5 * * * *",
        "starting": 240,
        "deadline": 1800,
        "max_age_rule": True,
        "lease": True,
        "key_file_var": "REPLICATOR_AGE_IDENTITY_FILE",
        "key_env": ("REPLICATOR_VERIFY_KEY", "verify-key"),
        "not_env": ("REPLICATOR_SIGNING_KEY_FILE", "REPLICATOR_AGE_RECIPIENTS"),
    },
}
# The daily full check: the import's pod and ConfigMap with `--full-check`. It does not keep the
# data fresh (the 5-minute import does), so the MAX_AGE rule is not its.
SIDES["full-check"] = dict(SIDES["import"], name="import-full-check", args=["import", "--full-check"],
                           schedule="4 3 * * *", starting=3600, deadline=3600, max_age_rule=False)
# Who differs from whom only in args, schedule and deadlines: {side: the side it copies}.
SAME_POD = {"full-check": "import"}

# What each overlay must render (scripts/chart-check.py holds the chart's renderings, most of them
# these). `sides`: {side: its Vault role}. `templates`: the Secret templates its CronJobs' Secrets
# come from. `irsa`: no S3 keys (components/irsa, the chart's store.credentialsSecret ""). `run_as`:
# the pod's fixed runAsUser, runAsGroup and fsGroup (None: not checked here).
OVERLAYS = {
    "dc": {
        "side": "export",
        "suffix": "",
        "suspend": False,
        "role": "vault-replicator-exporter",
        "store": "s3://vault-snapshots/dc",
        "templates": ["base/secrets.template.yaml", "base/export/keys-secret.template.yaml"],
    },
    "dr": {
        "sides": {"import": "vault-replicator-importer", "full-check": "vault-replicator-importer"},
        "suffix": "",
        "suspend": False,
        "store": "s3://vault-snapshots/dc",
        "templates": ["base/secrets.template.yaml", "base/import/keys-secret.template.yaml"],
    },
    "failback-dr-export": {
        "side": "export",
        "suffix": "-failback",
        "suspend": True,
        "role": "vault-replicator-exporter",
        "store": "s3://vault-snapshots/dr",
        "templates": ["base/secrets.template.yaml", "overlays/failback-dr-export/secrets.template.yaml"],
    },
    "failback-dc-import": {
        "side": "import",
        "suffix": "-failback",
        "suspend": True,
        "role": "vault-replicator-importer",
        "store": "s3://vault-snapshots/dr",
        "templates": ["base/secrets.template.yaml", "overlays/failback-dc-import/secrets.template.yaml"],
    },
}
# overlays/dr with components/irsa and components/public-s3 (rendered by k8s-validate.sh).
OVERLAYS["dr-irsa"] = dict(OVERLAYS["dr"], irsa=True)
for _exp in OVERLAYS.values():
    _exp.setdefault("sides", {_exp.get("side"): _exp.get("role")})
    _exp.setdefault("run_as", 65532)
# Rendered from the repository, not directories under k8s/overlays.
EXTRA_RENDERINGS = ["dr-irsa"]
# What every rendering holds (no Secret: `kubectl apply -k` must not overwrite real keys).
KINDS = {"ConfigMap", "CronJob", "NetworkPolicy", "ServiceAccount"}
# Kinds with no schema in kubernetes-validate (CRDs), checked by the caller instead.
CRD_KINDS = {"PrometheusRule"}
AWS_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")

# Read through the AWS SDK's standard chain or the standard library, not src/config.
EXTERNAL_ENV = {"AWS_ENDPOINT_URL", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                "TMPDIR", "RUST_LOG"}
# Being added to the binary; accepted before src/config reads them.
PENDING_ENV = {"REPLICATOR_KEEP_LAST", "REPLICATOR_KEEP_WITHIN", "REPLICATOR_MAX_AGE",
               "REPLICATOR_PUSHGATEWAY_URL"}
# What the checks of a rendering read besides it: --k8s-version, the variables the binary reads,
# the Secret templates ({file under k8s/: {Secret: keys}}), --verbose.
Inputs = collections.namedtuple("Inputs", "versions known_env templates verbose")


class Checker:
    def __init__(self):
        self.errors = []

    def expect(self, cond, where, msg):
        if not cond:
            self.errors.append(f"{where}: {msg}")
        return cond


def quantity(q):
    """Bytes in a Kubernetes quantity with a binary suffix (`2Gi`), or 0 when it has none."""
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
    q = str(q)
    return int(q[:-2]) * units[q[-2:]] if q[-2:] in units and q[:-2].isdigit() else 0


def dig(obj, path, default=None):
    for part in path.split("."):
        if not isinstance(obj, dict) or part not in obj:
            return default
        obj = obj[part]
    return obj


def load_all(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def env_names_read_by_binary():
    """Variables the binary reads: string literals in src/ and the envy structs of src/config."""
    names = set()
    sources = glob.glob(os.path.join(ROOT, "src", "**", "*.rs"), recursive=True)
    for path in sources:
        with open(path) as f:
            text = f.read()
        names.update(re.findall(r'"((?:REPLICATOR|VAULT|BAO)_[A-Z0-9_]+)"', text))
        for struct, prefix in (("ReplicatorEnv", "REPLICATOR_"), ("VaultEnv", "VAULT_")):
            m = re.search(r"struct " + struct + r"\s*\{(.*?)\n\}", text, re.S)
            if m:
                names.update(prefix + f.upper() for f in re.findall(r"^\s*(\w+)\s*:", m.group(1), re.M))
    return names


def validate_schema(c, where, obj, versions):
    for version in versions:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as e:
            path = ".".join(str(p) for p in e.path) or "(top)"
            c.errors.append(f"{where}: Kubernetes {version} schema: {path}: {e.message}")
        except (kubernetes_validate.SchemaNotFoundError, kubernetes_validate.InvalidSchemaError) as e:
            c.errors.append(f"{where}: Kubernetes {version} schema: {e}")


def secret_templates():
    """(file under k8s/, object) for each object of the Secret templates k8s/**/*.template.yaml."""
    for path in sorted(glob.glob(os.path.join(ROOT, "k8s", "**", "*.template.yaml"), recursive=True)):
        rel = os.path.relpath(path, os.path.join(ROOT, "k8s"))
        for obj in load_all(path):
            yield rel, obj


def template_keys():
    """{file under k8s/: {Secret name: set of keys}} of the Secret templates."""
    secrets = {}
    for rel, obj in secret_templates():
        secrets.setdefault(rel, {})[dig(obj, "metadata.name")] = set(obj.get("stringData") or {})
    return secrets


def check_templates(c, versions):
    """Secret templates: valid, placeholders only."""
    for rel, obj in secret_templates():
        where = f"k8s/{rel}: {obj.get('kind')} {dig(obj, 'metadata.name')}"
        validate_schema(c, where, obj, versions)
        c.expect(obj.get("kind") == "Secret", where, "a template holds Secrets only")
        c.expect(dig(obj, "metadata.namespace") == NAMESPACE, where, f"namespace is not {NAMESPACE}")
        c.expect("data" not in obj, where, "use stringData with placeholders, not data")
        for key, value in (obj.get("stringData") or {}).items():
            c.expect(value == PLACEHOLDER, where, f"{key}: a template holds {PLACEHOLDER} only")


def cron_field(field, lo, hi):
    """The values a cron field (*, */n, a-b, a-b/n, lists) matches."""
    out = set()
    for part in field.split(","):
        rng, _, step = part.partition("/")
        if rng == "*":
            a, b = lo, hi
        elif "-" in rng:
            a, b = (int(x) for x in rng.split("-"))
        else:
            a = b = int(rng)
            if step:
                b = hi
        out.update(range(a, b + 1, int(step or 1)))
    return out


def schedule_runs(schedule):
    """The minutes of one week (0 = Sunday 00:00) a 5-field cron schedule runs at (day of month
    and month must be `*`)."""
    minute, hour, dom, month, dow = schedule.split()
    if dom != "*" or month != "*":
        raise ValueError(f"schedule {schedule!r}: only day-of-month and month `*` are supported here")
    minutes, hours = cron_field(minute, 0, 59), cron_field(hour, 0, 23)
    days = {d % 7 for d in cron_field(dow.replace("*", "0-6"), 0, 7)}
    return [d * 1440 + h * 60 + m for d in sorted(days) for h in sorted(hours) for m in sorted(minutes)]


def schedule_gaps_seconds(schedule):
    """The gaps between two runs of a cron schedule over one week, in seconds."""
    runs = schedule_runs(schedule)
    return [(b - a) * 60 for a, b in zip(runs, runs[1:])] + [(runs[0] + 7 * 1440 - runs[-1]) * 60]


def schedule_interval_seconds(schedule):
    """The longest gap between two runs of a 5-field cron schedule, over one week."""
    return max(schedule_gaps_seconds(schedule))


def duration_seconds(text):
    """A duration as REPLICATOR_MAX_AGE takes it: 90s, 45m, 6h, 7d, 1h30m."""
    parts = re.findall(r"(\d+)([smhdw])", text or "")
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"duration {text!r} not understood")
    unit = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    return sum(int(n) * unit[u] for n, u in parts)


def check_cronjob(c, where, cj, exp, side_name, config, inputs):
    known_env, templates = inputs.known_env, inputs.templates
    side = SIDES[side_name]
    spec = cj.get("spec", {})
    job = dig(cj, "spec.jobTemplate.spec", {})
    pod = dig(job, "template.spec", {})
    e = c.expect
    e(spec.get("schedule") == side["schedule"], where, f"schedule is not {side['schedule']!r}")
    e(spec.get("concurrencyPolicy") == "Forbid", where, "concurrencyPolicy is not Forbid")
    e("suspend" in spec, where, "suspend is not set explicitly")
    e(spec.get("suspend") is exp["suspend"], where, f"suspend is not {str(exp['suspend']).lower()}")
    e(spec.get("startingDeadlineSeconds") == side["starting"], where,
      f"startingDeadlineSeconds is not {side['starting']}")
    try:
        shortest = min(schedule_gaps_seconds(spec.get("schedule", "")))
        e((spec.get("startingDeadlineSeconds") or 0) < shortest, where,
          f"startingDeadlineSeconds is not under the schedule's shortest interval ({shortest}s): a late run "
          "would start after the next one was due")
    except ValueError as err:
        e(False, where, str(err))
    e(spec.get("successfulJobsHistoryLimit") == 3, where, "successfulJobsHistoryLimit is not 3")
    e(spec.get("failedJobsHistoryLimit") == 3, where, "failedJobsHistoryLimit is not 3")
    e(job.get("backoffLimit") == 2, where, "backoffLimit is not 2")
    e(job.get("activeDeadlineSeconds") == side["deadline"], where,
      f"activeDeadlineSeconds is not {side['deadline']}")
    e(job.get("ttlSecondsAfterFinished") == 86400, where, "ttlSecondsAfterFinished is not 86400")

    e(pod.get("restartPolicy") == "Never", where, "restartPolicy is not Never")
    e(pod.get("serviceAccountName") == "vault-replicator" + exp["suffix"], where,
      "serviceAccountName is not the overlay's ServiceAccount")
    e(pod.get("automountServiceAccountToken") is False, where, "automountServiceAccountToken is not false")
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        e(not pod.get(field), where, f"{field} is set")
    e(dig(pod, "securityContext.runAsNonRoot") is True, where, "pod runAsNonRoot is not true")
    for field in ("runAsUser", "runAsGroup", "fsGroup"):
        if exp["run_as"] is not None:
            e(dig(pod, "securityContext." + field) == exp["run_as"], where, f"pod {field} is not {exp['run_as']}")
    e(dig(pod, "securityContext.seccompProfile.type") == "RuntimeDefault", where,
      "pod seccompProfile is not RuntimeDefault")
    e(dig(cj, "metadata.labels", {}).get("app.kubernetes.io/component") == side_name, where,
      f"label app.kubernetes.io/component is not {side_name}")
    e(dig(job, "template.metadata.labels", {}).get("app.kubernetes.io/name") == "vault-replicator",
      where, "pod template lacks app.kubernetes.io/name: vault-replicator (the NetworkPolicy)")

    volumes = {v.get("name"): v for v in pod.get("volumes") or []}
    for v in volumes.values():
        e("hostPath" not in v, where, f"volume {v.get('name')} is a hostPath")
    containers = (pod.get("initContainers") or []) + (pod.get("containers") or [])
    e(len(pod.get("containers") or []) == 1, where, "expected one container")
    for ctr in containers:
        cw = f"{where}: container {ctr.get('name')}"
        sc = ctr.get("securityContext") or {}
        e(sc.get("allowPrivilegeEscalation") is False, cw, "allowPrivilegeEscalation is not false")
        e(sc.get("readOnlyRootFilesystem") is True, cw, "readOnlyRootFilesystem is not true")
        e(sc.get("runAsNonRoot") is True, cw, "runAsNonRoot is not true")
        e(not sc.get("privileged"), cw, "privileged")
        e(dig(sc, "capabilities.drop") == ["ALL"], cw, "capabilities.drop is not [ALL]")
        e(not dig(sc, "capabilities.add"), cw, "adds capabilities")
        for res in ("requests.cpu", "requests.memory", "limits.memory"):
            e(dig(ctr, "resources." + res) is not None, cw, f"resources.{res} is not set")
        image = ctr.get("image", "")
        e(IMAGE.match(image) and not image.endswith(":latest") and (":" in image.rsplit("/", 1)[-1]),
          cw, f"image {image!r} is not pinned to a tag or digest")
        e(ctr.get("imagePullPolicy") == "IfNotPresent", cw, "imagePullPolicy is not IfNotPresent")

    ctr = (pod.get("containers") or [{}])[0]
    cw = f"{where}: container {ctr.get('name')}"
    e(ctr.get("args") == side["args"], cw, f"args are not {side['args']}")
    refs = [r.get("configMapRef", {}).get("name") for r in ctr.get("envFrom") or []]
    e(refs == [config["metadata"]["name"]], cw, "envFrom is not the overlay's ConfigMap (only)")
    env = {v.get("name"): v for v in ctr.get("env") or []}
    data = config.get("data") or {}
    for name in list(env) + list(data):
        e(name in known_env or name in PENDING_ENV, cw, f"{name} is not read by vault-replicator")
    e(not set(env) & set(data), cw, f"set both in env and the ConfigMap: {sorted(set(env) & set(data))}")
    if side.get("lease"):
        check_lease(c, cw, data, job)
    # The `status` alert (REPLICATOR_MAX_AGE) must not fire between two healthy scheduled runs.
    if not exp["suspend"] and side["max_age_rule"]:
        try:
            interval = schedule_interval_seconds(spec.get("schedule", ""))
            max_age = duration_seconds(data.get("REPLICATOR_MAX_AGE"))
            limit = interval + (job.get("activeDeadlineSeconds") or 0)
            e(max_age > limit, cw, f"REPLICATOR_MAX_AGE {data.get('REPLICATOR_MAX_AGE')} does not exceed the "
              f"schedule's interval ({interval // 60}m) + activeDeadlineSeconds ({limit // 60}m in all)")
        except ValueError as err:
            e(False, cw, str(err))
    for name in AWS_KEYS:
        if exp.get("irsa"):
            e(name not in env and name not in data, cw, f"{name} is set; IRSA renders no S3 keys")
        else:
            e(dig(env.get(name, {}), "valueFrom.secretKeyRef.key") == name, cw,
              f"{name} does not come from the S3 Secret")
    for name in side["not_env"]:
        e(name not in env and name not in data, cw, f"{name} belongs to the other side")
    key_env, key_name = side["key_env"]
    e(dig(env.get(key_env, {}), "valueFrom.secretKeyRef.key") == key_name, cw,
      f"{key_env} does not come from the key {key_name} of a Secret")

    mounts = {m.get("mountPath"): m for m in ctr.get("volumeMounts") or []}

    def mount_of(path):
        """The volume mounted at the directory of `path`, and the file's name in it."""
        d = posixpath.dirname(path)
        m = mounts.get(d)
        return (volumes.get(m.get("name")) if m else None), posixpath.basename(path), m

    # The projected Vault token.
    vol, base, m = mount_of(data.get("REPLICATOR_KUBERNETES_TOKEN_FILE", ""))
    sat = [s.get("serviceAccountToken") for s in dig(vol or {}, "projected.sources", []) if "serviceAccountToken" in s]
    ok = e(len(sat) == 1, cw, "REPLICATOR_KUBERNETES_TOKEN_FILE is not in a projected serviceAccountToken volume")
    if ok:
        e(sat[0].get("audience") == "vault", cw, "the Vault token's audience is not vault")
        e(sat[0].get("expirationSeconds") == 600, cw, "the Vault token's expirationSeconds is not 600")
        e(sat[0].get("path") == base, cw, "the Vault token's path does not match REPLICATOR_KUBERNETES_TOKEN_FILE")
        e(m.get("readOnly") is True, cw, "the Vault token is not mounted read-only")
    # Scratch space at TMPDIR: the export's sealed spool on the node's disk, big enough for
    # 1,000,000 secrets (about 1.1 GB, issue #19); the import's in memory (it writes nothing).
    m = mounts.get(data.get("TMPDIR"))
    vol = volumes.get(m.get("name")) if m else None
    e(dig(vol or {}, "emptyDir") is not None, cw, "TMPDIR is not an emptyDir")
    e(dig(vol or {}, "emptyDir.sizeLimit") is not None, cw, "the TMPDIR emptyDir has no sizeLimit")
    memory = dig(vol or {}, "emptyDir.medium") == "Memory"
    if side["args"] == ["export"]:
        e(not memory, cw, "the export's TMPDIR is in memory: its spool would count against the memory limit")
        e(quantity(dig(vol or {}, "emptyDir.sizeLimit", "0")) >= 2 * 2**30, cw,
          "the export's TMPDIR sizeLimit is under 2Gi (the spool of 1,000,000 secrets)")
    else:
        e(memory, cw, "the import's TMPDIR is not in memory")

    # Secrets: every reference resolves to a template with that key.
    def template_keys(secret):
        if secret in exp.get("aliases", {}):
            rel, name = exp["aliases"][secret]
            return templates.get(rel, {}).get(name)
        found = [templates[rel][secret] for rel in exp["templates"] if secret in templates.get(rel, {})]
        return set().union(*found) if found else None

    for name, v in env.items():
        ref = dig(v, "valueFrom.secretKeyRef")
        if ref and not ref.get("optional"):
            keys = template_keys(ref.get("name"))
            e(keys is not None and ref.get("key") in keys, cw,
              f"{name}: Secret {ref.get('name')} key {ref.get('key')} has no template in {exp['templates']}")
    for v in volumes.values():
        if "secret" in v:
            e(template_keys(v["secret"].get("secretName")) is not None, cw,
              f"volume {v['name']}: Secret {v['secret'].get('secretName')} has no template")
    for var in (side["key_file_var"], "VAULT_CACERT"):
        vol, base, m = mount_of(data.get(var, ""))
        secret = dig(vol or {}, "secret.secretName")
        keys = template_keys(secret) if secret else None
        if e(keys is not None and base in keys, cw, f"{var}: not a key of a mounted Secret with a template"):
            e(m.get("readOnly") is True, cw, f"{var}: its Secret is not mounted read-only")
    vol, _, _ = mount_of(data.get(side["key_file_var"], ""))
    e(dig(vol or {}, "secret.defaultMode") == 0o400, cw, "the keys Secret's defaultMode is not 0400")


def check_lease(c, where, data, job):
    """The import lease: a killed import's lease (TTL) is waited out (WAIT) by the next import,
    which then still has 5 minutes of its deadline to run."""
    e = c.expect
    try:
        ttl = duration_seconds(data.get("REPLICATOR_LEASE_TTL"))
        wait = duration_seconds(data.get("REPLICATOR_LEASE_WAIT"))
    except ValueError as err:
        e(False, where, f"REPLICATOR_LEASE_TTL and REPLICATOR_LEASE_WAIT must both be set: {err}")
        return
    e(wait > ttl, where, f"REPLICATOR_LEASE_WAIT ({wait}s) does not exceed REPLICATOR_LEASE_TTL ({ttl}s): "
      "an import started after a killed one would exit 1 instead of waiting its lease out")
    e(ttl >= 10, where, "REPLICATOR_LEASE_TTL is under 10s (docs/configuration.md)")
    deadline = job.get("activeDeadlineSeconds") or 0
    e(deadline - wait >= 300, where, f"activeDeadlineSeconds ({deadline}s) leaves under 5 minutes of run after "
      f"REPLICATOR_LEASE_WAIT ({wait}s)")


def check_same_pod(c, where, cronjobs):
    """A CronJob that copies another (SAME_POD: the full check, the import's) differs from it only
    in its name, labels, args, schedule and deadlines; and never starts when its original does."""
    by_side = {dig(cj, "metadata.labels", {}).get("app.kubernetes.io/component"): cj for cj in cronjobs}
    for side, original in SAME_POD.items():
        if side not in by_side or original not in by_side:
            continue
        a, b = (copy.deepcopy(by_side[s]["spec"]) for s in (side, original))
        e = c.expect
        runs_a, runs_b = (set(m % 60 for m in schedule_runs(x["schedule"])) for x in (a, b))
        e(not runs_a & runs_b, f"{where}: CronJob {side}",
          f"starts at minute(s) {sorted(runs_a & runs_b)}, as the {original} CronJob does: start it between two")
        for spec in (a, b):
            for key in ("schedule", "startingDeadlineSeconds"):
                spec.pop(key, None)
            job = spec["jobTemplate"]["spec"]
            job.pop("activeDeadlineSeconds", None)
            job["template"].get("metadata", {}).get("labels", {}).pop("app.kubernetes.io/component", None)
            for ctr in job["template"]["spec"].get("containers") or []:
                ctr.pop("args", None)
        e(a == b, f"{where}: CronJob {side}", f"differs from the {original} CronJob in more than its args, "
          "schedule and deadlines")


def check_networkpolicy(c, where, np, release=None):
    """release: the chart's; its policy selects its own release's pods (name and instance)."""
    spec = np.get("spec", {})
    e = c.expect
    want = {"app.kubernetes.io/name": "vault-replicator"}
    if release:
        want["app.kubernetes.io/instance"] = release
    e(dig(spec, "podSelector.matchLabels") == want, where, f"podSelector is not {want}")
    e(spec.get("policyTypes") == ["Ingress", "Egress"], where, "policyTypes are not [Ingress, Egress]")
    e(not spec.get("ingress"), where, "allows ingress")
    ports = set()
    for i, rule in enumerate(spec.get("egress") or []):
        e(rule.get("to"), where, f"egress rule {i} has no `to`: it allows every destination")
        e(rule.get("ports"), where, f"egress rule {i} has no ports: it allows every port")
        for to in rule.get("to") or []:
            e("ipBlock" in to or "podSelector" in to, where, f"egress rule {i} allows whole namespaces")
            if dig(to, "podSelector.matchLabels", {}).get("app.kubernetes.io/part-of"):
                e(False, where, f"egress rule {i}: the common labels leaked into a pod selector")
        for p in rule.get("ports") or []:
            ports.add((p.get("protocol", "TCP"), p.get("port")))
    for need in (("UDP", 53), ("TCP", 53), ("TCP", 8200)):
        e(need in ports, where, f"no egress to {need[1]}/{need[0]}")
    # Vault's pods, as the vault and the openbao Helm charts label them.
    selected = set()
    for rule in spec.get("egress") or []:
        for to in rule.get("to") or []:
            sel = to.get("podSelector") or {}
            if "namespaceSelector" in to:
                continue
            name = (sel.get("matchLabels") or {}).get("app.kubernetes.io/name")
            if name:
                selected.add(name)
            for expr in sel.get("matchExpressions") or []:
                if expr.get("key") == "app.kubernetes.io/name" and expr.get("operator") == "In":
                    selected.update(expr.get("values") or [])
    for name in ("vault", "openbao"):
        e(name in selected, where, f"no egress to pods labelled app.kubernetes.io/name: {name}")


def check_rendering(c, name, where, path, exp, inputs, extra_kinds=frozenset(), release=None):
    """The checks of one rendering (an overlay, or a chart rendering: scripts/chart-check.py):
    every object valid, namespaced and labelled; exactly KINDS | extra_kinds; the expected CronJobs
    (check_cronjob), their ConfigMaps, ServiceAccounts and NetworkPolicies (selecting `release`'s
    pods too, when given). Returns ({kind: objects}, {name: the sides' ConfigMaps})."""
    objs = load_all(path)
    by_kind = {}
    for obj in objs:
        by_kind.setdefault(obj.get("kind"), []).append(obj)
        ow = f"{where}: {obj.get('kind')} {dig(obj, 'metadata.name')}"
        if obj.get("kind") not in CRD_KINDS:
            validate_schema(c, ow, obj, inputs.versions)
        c.expect(dig(obj, "metadata.namespace") == NAMESPACE, ow, f"namespace is not {NAMESPACE}")
        labels = dig(obj, "metadata.labels") or {}
        for k, v in LABELS.items():
            c.expect(labels.get(k) == v, ow, f"label {k}: {v} is missing")
    want_kinds = sorted(KINDS | set(extra_kinds))
    c.expect(sorted(by_kind) == want_kinds, where, f"renders {sorted(by_kind)}; expected {', '.join(want_kinds)} "
             "(no Secret: `kubectl apply -k` must not overwrite real keys)")
    cronjobs = by_kind.get("CronJob", [])
    want = sorted(f"vault-replicator-{SIDES[side]['name']}{exp['suffix']}" for side in exp["sides"])
    got = sorted(dig(o, "metadata.name") for o in cronjobs)
    c.expect(got == want, where, f"renders CronJobs {got}; expected {want} only")
    check_same_pod(c, where, cronjobs)
    for sa in by_kind.get("ServiceAccount", []):
        c.expect(sa.get("automountServiceAccountToken") is False, f"{where}: ServiceAccount",
                 "automountServiceAccountToken is not false")
    # The sides' ConfigMaps, not the dashboard's.
    configs = {dig(o, "metadata.name"): o for o in by_kind.get("ConfigMap", [])
               if "vault-replicator.json" not in (o.get("data") or {})}
    own_configs = [s for s in exp["sides"] if s not in SAME_POD]
    c.expect(len(configs) == len(own_configs), where, f"expected {len(own_configs)} ConfigMap(s)")
    data = {}
    for cj in cronjobs:
        side_name = dig(cj, "metadata.labels", {}).get("app.kubernetes.io/component")
        if not c.expect(side_name in exp["sides"], where, f"CronJob {dig(cj, 'metadata.name')}: unexpected side"):
            continue
        refs = [r.get("configMapRef", {}).get("name")
                for r in dig(cj, "spec.jobTemplate.spec.template.spec.containers", [{}])[0].get("envFrom") or []]
        config = configs.get(refs[0]) if refs else None
        if not c.expect(config is not None, where, f"CronJob {dig(cj, 'metadata.name')}: its ConfigMap is not rendered"):
            continue
        data = config.get("data") or {}
        cw = f"{where}: ConfigMap {dig(config, 'metadata.name')}"
        for var, value in (("REPLICATOR_AUTH", "kubernetes"), ("REPLICATOR_AUTH_ROLE", exp["sides"][side_name]),
                           ("REPLICATOR_STORE", exp["store"])):
            c.expect(data.get(var) == value, cw, f"{var} is {data.get(var)!r}, expected {value!r}")
        for var in ("VAULT_ADDR", "VAULT_CACERT", "REPLICATOR_KUBERNETES_TOKEN_FILE", "TMPDIR"):
            c.expect(data.get(var), cw, f"{var} is not set")
        check_cronjob(c, f"{where}: CronJob {dig(cj, 'metadata.name')}", cj, exp, side_name, config, inputs)
    for np in by_kind.get("NetworkPolicy", []):
        check_networkpolicy(c, f"{where}: NetworkPolicy {dig(np, 'metadata.name')}", np, release)
    if inputs.verbose:
        names = ", ".join(f"{o.get('kind')}/{dig(o, 'metadata.name')}" for o in objs)
        print(f"  {name}: {names}")
        print(f"    ConfigMap: {' '.join(sorted(data))}", flush=True)
    return by_kind, configs


def parse_args(doc):
    """The command line both checks take; returns (args, Inputs)."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--rendered", required=True, help="directory of the rendered <name>.yaml files")
    ap.add_argument("--k8s-version", action="append", dest="versions", help="e.g. 1.30.0; repeatable")
    ap.add_argument("--verbose", "-v", action="store_true")
    args = ap.parse_args()
    known_env = env_names_read_by_binary() | EXTERNAL_ENV
    return args, Inputs(args.versions or ["1.30.0"], known_env, template_keys(), args.verbose)


def rendered(c, args, name, where):
    """The path of rendering `name` in --rendered, or None (an error) when it is missing."""
    path = os.path.join(args.rendered, name + ".yaml")
    return path if c.expect(os.path.isfile(path), where, f"not rendered ({path})") else None


def report(c, prog, passed):
    """Prints the errors (exit status 1) or, with none, `passed` (exit status 0)."""
    for err in c.errors:
        print(f"{prog}: {err}", file=sys.stderr)
    if c.errors:
        print(f"{prog}: FAILED, {len(c.errors)} problem(s)", file=sys.stderr)
        return 1
    print(f"{prog}: {passed}")
    return 0


def main():
    args, inputs = parse_args(__doc__)
    c = Checker()
    c.expect(len(inputs.known_env) > len(EXTERNAL_ENV) + 10, "src/", "found no environment variables in src/")
    check_templates(c, inputs.versions)

    overlays = sorted(d for d in os.listdir(os.path.join(ROOT, "k8s", "overlays"))
                      if os.path.isfile(os.path.join(ROOT, "k8s", "overlays", d, "kustomization.yaml")))
    c.expect(overlays == sorted(set(OVERLAYS) - set(EXTRA_RENDERINGS)), "k8s/overlays",
             f"overlays {overlays}; this check knows {sorted(OVERLAYS)}: add the new one to OVERLAYS")
    for overlay in overlays + EXTRA_RENDERINGS:
        path = rendered(c, args, overlay, f"overlays/{overlay}")
        if path and overlay in OVERLAYS:
            check_rendering(c, overlay, f"overlays/{overlay}", path, OVERLAYS[overlay], inputs)

    pending = sorted(PENDING_ENV - inputs.known_env)
    if pending:
        print(f"k8s-check: note: not read by the binary yet (accepted as pending): {' '.join(pending)}", flush=True)
    return report(c, "k8s-check", f"{len(overlays)} overlays, {len(EXTRA_RENDERINGS)} more "
                  f"({' '.join(EXTRA_RENDERINGS)}) and {sum(len(v) for v in inputs.templates.values())} Secret "
                  f"templates valid (strict) against Kubernetes {', '.join(inputs.versions)}; CronJob, ConfigMap, "
                  "NetworkPolicy checks passed")


if __name__ == "__main__":
    sys.exit(main())
