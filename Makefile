# scangate — see README.md. Every target installs what it needs into the project, pinned
# (.venv/ for Python tools, node_modules/ for npm tools, .tools/ for cargo tools), so a fresh
# machine with Rust, Python 3 and Node is enough (an empty CARGO_HOME too).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VENV := $(CURDIR)/.venv
export PATH := $(VENV)/bin:$(CURDIR)/node_modules/.bin:$(PATH)
CARGO ?= cargo

.PHONY: demo test fmt-check clippy unit bench venv release package lint-cfn test-deploy fuzz bench-runner bench-sink
.PHONY: bench-peers deny check-standalone test-quick test-scripts test-ci watch

## demo: end to end against moto: scan, S3 -> SQS -> processor, Security Hub, gate; then one CVE fixed
demo: venv
	@bash scripts/demo.sh

## test: formatting, lints, the standalone and dependency-policy checks, every test, the template linters and the deploy-script tests
##       over a real release (what .ci/run runs; README.md's Development section says how long it takes)
test: fmt-check clippy check-standalone deny venv unit test-scripts test-ci lint-cfn test-deploy

## test-quick: the inner loop: formatting, clippy, every cargo test (moto ones too) and the toolchain-script tests;
##             no release cross-build, no template linters, no cargo-deny
test-quick: fmt-check clippy venv unit test-scripts

## test-scripts: tests of the toolchain scripts (release zips, pinned tools), of the VM-disk orchestration examples
##               (examples/vm-disks, with stand-ins for aws, gcloud and mount) and of the Apptainer definition file
##               (examples/apptainer: its %post and %runscript run under /bin/sh; the real runner from target/debug,
##               which `unit` builds); Python standard library only
test-scripts:
	python3 scripts/test_toolchain.py
	python3 scripts/test_vm_disk_examples.py
	python3 scripts/test_apptainer_def.py

## test-ci: the CI integrations (docs/ci/): schemas (check-jsonschema into .venv/ci), action-validator (npm), stack names,
##          and each integration's steps run against moto with stand-ins for the CI system (after `unit` built the runner)
test-ci: venv
	@bash scripts/test-ci.sh

## check-standalone: no tracked file outside tests/corpus points outside the repository
check-standalone:
	@bash scripts/check-standalone.sh

## deny: dependency policy (cargo-deny licences, bans, sources; installs the pinned cargo-deny into .tools/ when missing,
##       fetches every locked crate first, so an empty CARGO_HOME works) and rust-version = what Cargo.lock needs
deny:
	@bash scripts/deny.sh

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

unit: venv
	$(CARGO) test --workspace

## venv: project-local Python tools (moto server for the AWS tests)
venv: $(VENV)/.installed

$(VENV)/.installed: scripts/requirements-test.txt scripts/constraints-test.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements-test.txt
	touch $@

## bench: throughput and memory of `scangate process` (release build)
bench:
	@bash scripts/bench.sh

## release: every deployable artifact into dist/ (Lambda zips arm64, runner x86_64 + aarch64 for glibc >= 2.17,
## SHA256SUMS, manifest.json), see docs/deploy.md
release:
	@bash scripts/release.sh

## watch: both Lambdas under cargo-lambda's emulator (cargo lambda watch), against a moto server on loopback;
##        send the example events with `cargo lambda invoke` (docs/report-processor.md#local-loop). WATCH_ARGS passes options.
watch:
	@bash scripts/watch.sh $(WATCH_ARGS)

## package: the same as release (the older name)
package: release

## lint-cfn: cfn-lint, checkov and cfn-guard over every template
lint-cfn:
	@bash scripts/lint-cfn.sh

## test-deploy: the StackSet deploy script, dry run and against a local moto server
test-deploy: venv
	@bash scripts/test-deploy.sh

## fuzz: cargo-fuzz targets one after another (FUZZ_TARGET=sarif_reader,events,gate_params,text_sanitize by default; FUZZ_SECONDS each, default 300), see docs/fuzzing.md
fuzz:
	@bash scripts/fuzz.sh

## bench-runner: runner overhead beside the scanner's own run time (release build)
bench-runner:
	@bash scripts/bench-runner.sh

## bench-sink: Security Hub sink against a local throttling endpoint (20 000 findings)
bench-sink:
	$(CARGO) bench -p scangate-aws --bench throttle

## bench-peers: scangate beside sarif-tools and MITRE SAF CLI (installed into .peers/), see docs/benchmarks.md
bench-peers:
	@bash scripts/bench-peers.sh
