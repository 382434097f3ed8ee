#!/usr/bin/env bash
# Supply-chain checks with cargo-deny (configuration: deny.toml); installs cargo-deny when missing.
#   licenses, bans, sources - always run, must pass.
#   advisories - needs the RustSec advisory database, a git repository on GitHub that no package
#     registry carries. It runs when the database can be fetched (from GitHub, or from
#     ADVISORY_DB_MIRROR: a git URL or path of a copy of rustsec/advisory-db with its `main`
#     branch) or an earlier fetch is still on disk and less than 90 days old; otherwise it is
#     skipped with a one-line notice.
# Exits non-zero when any check that ran failed. `cargo deny check <name>` shows the inclusion
# graphs this script hides.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

CARGO_DENY_VERSION=0.20.2
ADVISORY_DB_URL=https://github.com/rustsec/advisory-db # keep equal to db-urls in deny.toml
ADVISORY_DB_ROOT="${CARGO_HOME:-$HOME/.cargo}/advisory-dbs" # cargo-deny's default db-path

if ! cargo deny --version >/dev/null 2>&1; then
  echo "deny: installing cargo-deny $CARGO_DENY_VERSION from crates.io (about 3 minutes on 2 cores)"
  CARGO_TARGET_DIR="${TMPDIR:-/tmp}/cargo-deny-build" nice -n 10 \
    cargo install --locked --quiet "cargo-deny@$CARGO_DENY_VERSION"
fi
installed=$(cargo deny --version | awk '{print $2}')
if [ "$installed" != "$CARGO_DENY_VERSION" ]; then
  echo "deny: note: cargo-deny $installed is installed; this script was written for $CARGO_DENY_VERSION"
fi

status=0
cargo deny --locked check --hide-inclusion-graph licenses bans sources || status=1

if [ -n "${ADVISORY_DB_MIRROR:-}" ]; then
  # cargo-deny clones and fetches with the git CLI: send the upstream URL to the mirror, for
  # this run only.
  n=${GIT_CONFIG_COUNT:-0}
  export "GIT_CONFIG_KEY_$n=url.$ADVISORY_DB_MIRROR.insteadOf" "GIT_CONFIG_VALUE_$n=$ADVISORY_DB_URL"
  export GIT_CONFIG_COUNT=$((n + 1))
fi

fetch_log=$(mktemp)
trap 'rm -f "$fetch_log"' EXIT
if timeout 300 cargo deny --locked fetch db >"$fetch_log" 2>&1; then
  have_db=1
elif compgen -G "$ADVISORY_DB_ROOT/advisory-db-*/.git" >/dev/null; then
  echo "deny: could not fetch the advisory database; checking against the copy in $ADVISORY_DB_ROOT"
  have_db=1
else
  have_db=0
  reason=$(grep -E 'fatal:|error:' "$fetch_log" | tail -n 1 | sed -E 's/^.*(fatal|error): *//')
  echo "deny: advisories SKIPPED: RustSec advisory-db not reachable (${reason:-see cargo deny fetch db}) and no copy in $ADVISORY_DB_ROOT; set ADVISORY_DB_MIRROR to a git mirror of $ADVISORY_DB_URL"
fi
if [ "$have_db" = 1 ]; then
  # --offline: use the database just fetched (or on disk); cargo-deny refuses one older than 90 days.
  cargo deny --locked --offline check --hide-inclusion-graph advisories || status=1
fi

exit "$status"
