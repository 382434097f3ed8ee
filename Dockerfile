# syntax=docker/dockerfile:1
# Build:  docker build -t vault-replicator:0.1.0 \
#           --build-arg VERSION=0.1.0 --build-arg REVISION=$(git rev-parse HEAD) \
#           --build-arg CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ) .
# The binary is the release build `make release` makes for x86_64-unknown-linux-musl: static, the
# release profile of Cargo.toml (fat LTO, stripped), musl's own allocator (docs/performance.md,
# "The binary we ship"); on distroless/static, which carries CA certificates and a non-root user
# and nothing else (no shell, no libc).
#
# Base images are pinned by version. A registry that mirrors them should pin them by digest too:
#   docker build --build-arg RUST_IMAGE=rust:1.95.0-alpine3.22@sha256:... \
#                --build-arg RUNTIME_IMAGE=gcr.io/distroless/static-debian12:nonroot@sha256:... .
ARG RUST_IMAGE=rust:1.95.0-alpine3.22
ARG RUNTIME_IMAGE=gcr.io/distroless/static-debian12:nonroot

FROM ${RUST_IMAGE} AS build
# aws-lc-sys (the TLS crypto provider) and zlib-rs build C code: a C toolchain, cmake and perl.
RUN apk add --no-cache musl-dev build-base cmake perl
WORKDIR /src
# The dependency layer: the manifests with an empty crate, built once, so that a change to src/
# rebuilds only vault-replicator itself.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src && echo 'fn main() {}' >src/main.rs && touch src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src target/release/.fingerprint/vault-replicator-* target/release/deps/*vault_replicator*
COPY src ./src
RUN cargo build --release --locked \
    && ./target/release/vault-replicator --version

FROM ${RUNTIME_IMAGE}
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="vault-replicator" \
      org.opencontainers.image.description="Keeps a disaster-recovery Vault / OpenBao cluster in step with its primary through encrypted, signed snapshots on S3" \
      org.opencontainers.image.source="https://github.com/vault-replicator/vault-replicator" \
      org.opencontainers.image.url="https://github.com/vault-replicator/vault-replicator" \
      org.opencontainers.image.documentation="https://github.com/vault-replicator/vault-replicator/blob/main/README.md" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.vendor="vault-replicator" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}"
COPY --from=build /src/target/release/vault-replicator /usr/local/bin/vault-replicator
USER 65532:65532
ENTRYPOINT ["vault-replicator"]
