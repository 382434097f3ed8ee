#!/usr/bin/env bash
# `make release`: what a user installs, in dist/, built from this checkout:
#   vault-replicator-<version>-<target>.tar.gz  the static binary (musl, the image's build), with
#                                               LICENSE, README.md, CHANGELOG.md, SECURITY.md,
#                                               the man page and bash/zsh/fish completions
#   vault-replicator-<version>-<target>.cdx.json its CycloneDX SBOM (cargo-cyclonedx): every crate
#                                               compiled into it, with version and checksum
#   vault-replicator-<chart version>.tgz        the Helm chart (`helm package`; push it with
#                                               `helm push <tgz> oci://REGISTRY/charts`)
#   SHA256SUMS                                  sha256 of each of the above (`sha256sum -c`)
# Targets: RELEASE_TARGETS (default: x86_64-unknown-linux-musl aarch64-unknown-linux-musl).
# x86_64 builds with Debian's musl-gcc (musl-tools) for the C parts; aarch64 cross-builds with
# cargo-zigbuild and Zig (PyPI ziglang) as the C compiler and linker. Installs what is missing:
# the rustup targets, musl-tools (Debian), ziglang (PyPI), cargo-zigbuild and cargo-cyclonedx
# (crates.io, pinned versions), helm (scripts/tools.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$HOME/.local/bin:$PATH"

CARGO_ZIGBUILD_VERSION=0.24.1
CARGO_CYCLONEDX_VERSION=0.5.9
ZIGLANG_VERSION=0.17.1
TARGETS=${RELEASE_TARGETS:-x86_64-unknown-linux-musl aarch64-unknown-linux-musl}
DIST=${DIST:-dist}

started=$(date +%s)
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
chart=charts/vault-replicator
app_version=$(sed -n 's/^appVersion: "\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$chart/Chart.yaml")
if [ "$app_version" != "$version" ]; then
  echo "release: $chart/Chart.yaml appVersion is $app_version, Cargo.toml's version is $version" >&2
  exit 1
fi

# The kustomize bases name the image of this release too.
for f in k8s/base/*/cronjob.yaml; do
  if ! grep -q "image: ghcr.io/vault-replicator/vault-replicator:$version\b" "$f"; then
    echo "release: $f does not use the image of version $version" >&2
    exit 1
  fi
done

need_cargo_tool() { # binary crate version
  if ! command -v "$1" >/dev/null 2>&1; then
    echo "release: installing $2 $3 (crates.io)"
    cargo install --locked --quiet "$2@$3"
  fi
}

build() { # target [cargo build arguments]
  local target=$1
  shift
  rustup target list --installed | grep -qx "$target" || rustup target add "$target"
  case "$target" in
    x86_64-unknown-linux-musl)
      if ! command -v musl-gcc >/dev/null 2>&1; then
        echo "release: installing musl-tools (Debian)"
        SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
        $SUDO apt-get install -y -qq musl-tools >/dev/null 2>&1 || {
          $SUDO apt-get update -qq >/dev/null
          $SUDO apt-get install -y -qq musl-tools >/dev/null
        }
      fi
      CC_x86_64_unknown_linux_musl=musl-gcc cargo build --release --locked --target "$target" "$@"
      ;;
    *)
      python3 -c 'import ziglang' 2>/dev/null || {
        echo "release: installing ziglang $ZIGLANG_VERSION (PyPI)"
        python3 -m pip install --quiet --disable-pip-version-check "ziglang==$ZIGLANG_VERSION"
      }
      need_cargo_tool cargo-zigbuild cargo-zigbuild "$CARGO_ZIGBUILD_VERSION"
      cargo zigbuild --release --locked --target "$target" "$@"
      ;;
  esac
}

# `release.sh build TARGET [ARGS]`: only the release build of TARGET, as `make release` makes it
# (`make bench` measures that binary).
if [ "${1:-}" = "build" ]; then
  shift
  build "${@:?release.sh build TARGET [cargo build arguments]}"
  exit 0
fi

rm -rf "$DIST" && mkdir -p "$DIST"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
host_binary=""
for target in $TARGETS; do
  echo "release: building $target"
  build "$target"
  binary="target/$target/release/vault-replicator"
  # A static binary, nothing to load at run time: the image is distroless/static.
  if file "$binary" | grep -q "dynamically linked"; then
    echo "release: $binary is dynamically linked" >&2
    exit 1
  fi
  case "$target" in x86_64-*) host_binary=$binary ;; esac
  name="vault-replicator-$version-$target"
  mkdir -p "$stage/$name"
  cp "$binary" LICENSE README.md CHANGELOG.md SECURITY.md "$stage/$name/"
done

# The man page and completions come from the command line's definitions (any target's are the
# same): made by the x86_64 binary, which runs here.
if [ -n "$host_binary" ]; then
  "$host_binary" --version
  docs="$stage/docs" && mkdir -p "$docs"
  "$host_binary" man >"$docs/vault-replicator.1"
  "$host_binary" completions bash >"$docs/vault-replicator.bash"
  "$host_binary" completions zsh >"$docs/_vault-replicator"
  "$host_binary" completions fish >"$docs/vault-replicator.fish"
fi
for target in $TARGETS; do
  name="vault-replicator-$version-$target"
  [ -d "$stage/docs" ] && cp "$stage/docs"/* "$stage/$name/"
  tar -C "$stage" --owner=0 --group=0 --numeric-owner -czf "$DIST/$name.tar.gz" "$name"
done

echo "release: SBOM (cargo-cyclonedx)"
need_cargo_tool cargo-cyclonedx cargo-cyclonedx "$CARGO_CYCLONEDX_VERSION"
for target in $TARGETS; do
  cargo cyclonedx --format json --spec-version 1.5 --target "$target" --override-filename \
    "vault-replicator-$version-$target.cdx" >/dev/null
  mv "vault-replicator-$version-$target.cdx.json" "$DIST/"
done

echo "release: helm package"
bash scripts/tools.sh helm lint --strict "$chart" >/dev/null
bash scripts/tools.sh helm package "$chart" --destination "$DIST" >/dev/null

(cd "$DIST" && sha256sum -- *.tar.gz *.tgz *.cdx.json >SHA256SUMS && sha256sum -c --quiet SHA256SUMS)
echo "release: dist/ in $(($(date +%s) - started))s"
ls -l "$DIST"
