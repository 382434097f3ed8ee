#!/usr/bin/env bash
# Renders one kustomize overlay as a JSON list of objects (for tests that run what the manifests
# say): bash scripts/k8s-render.sh k8s/overlays/dr
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -c 'import yaml' 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check "PyYAML==6.0.3"
bash scripts/kustomize.sh build "$1" |
  python3 -c 'import json, sys, yaml; print(json.dumps([d for d in yaml.safe_load_all(sys.stdin) if d]))'
