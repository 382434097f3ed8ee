# Build: docker build -t vault-replicator .
# A static (musl) binary on distroless/static, which carries CA certificates, as a non-root user.
FROM rust:1-alpine AS build
# aws-lc-sys (the TLS crypto provider) builds C code: it needs a C toolchain, cmake and perl.
RUN apk add --no-cache musl-dev build-base cmake perl
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
RUN cargo build --release --locked && strip target/release/vault-replicator

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /src/target/release/vault-replicator /usr/local/bin/vault-replicator
USER 65532:65532
ENTRYPOINT ["vault-replicator"]
