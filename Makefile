# Command index. `make run` and `make test` are all a fresh machine needs; `make check` is the
# fast loop while editing.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
VENV_STAMP := $(VENV)/.installed
SAM_VENV := .venv-sam
SAM_STAMP := $(SAM_VENV)/.installed
CARGO ?= cargo
PORT ?= 9000
WATCH_PORT ?= 9100
FUZZ_SECONDS ?= 600
FUZZ_SMOKE_SECONDS ?= 30

# sam, cargo-lambda, zig and cfn-lint come from .venv-sam; sam's telemetry stays off.
export PATH := $(CURDIR)/$(SAM_VENV)/bin:$(PATH)
export SAM_CLI_TELEMETRY := 0
# The artifact `sam build` makes, and the Runtime Interface Emulator shipped in aws-sam-cli:
# the emulator test runs the one under the other.
# Both functions share one build (TokenFunction-Shared): SAM builds identical code once.
LAMBDA_BOOTSTRAP := $(CURDIR)/.aws-sam/build/TokenFunction-Shared/bootstrap
AWS_LAMBDA_RIE = $(firstword $(wildcard $(CURDIR)/$(SAM_VENV)/lib/python3*/site-packages/samcli/local/rapid/aws-lambda-rie-x86_64))

.PHONY: help
help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  %-10s %s\n", $$1, $$2}'

.PHONY: run
run: ## Run the token endpoint on http://127.0.0.1:$(PORT)/o/token/ with the seeded memory store
	PORT=$(PORT) $(CARGO) run --bin token-endpoint -- --store memory

.PHONY: check
check: lint ## The fast loop: formatting, clippy, unit tests and the router API tests (no moto, no emulator)
	$(CARGO) test --lib --bins --test api

.PHONY: test
# REQUIRE_TEST_SERVICES: a test whose tool (moto, the emulator, the bootstrap, curl) is missing
# fails here instead of being skipped, as plain `cargo test` skips it.
test: links $(VENV_STAMP) $(SAM_STAMP) template-lint build ## Run every test (installs its tools on first use)
	@command -v curl >/dev/null || { echo "==> installing curl (the local-server test runs the documented curl samples)"; apt-get update -qq && apt-get install -y -qq curl; }
	@echo "==> cargo test: unit; api (router, events); store (conformance on memory and moto, DynamoDB grants and faults); e2e (Runtime Interface Emulator, local server, oauth2 client, CLI, migration)"
	REQUIRE_TEST_SERVICES=1 AWS_LAMBDA_RIE="$(AWS_LAMBDA_RIE)" LAMBDA_BOOTSTRAP="$(LAMBDA_BOOTSTRAP)" $(CARGO) test --all-targets
	@$(MAKE) --no-print-directory contract
	@$(MAKE) --no-print-directory watch-smoke
	@$(MAKE) --no-print-directory clients
	@echo "==> fuzz smoke test: request parsing and client authentication, $(FUZZ_SMOKE_SECONDS) s (first build ~8 min)"
	scripts/fuzz.sh $(FUZZ_SMOKE_SECONDS)

.PHONY: fuzz
fuzz: ## Fuzz request parsing and client authentication for $(FUZZ_SECONDS) s (installs cargo-fuzz on first use)
	scripts/fuzz.sh $(FUZZ_SECONDS)

.PHONY: bench
bench: ## Benchmarks (criterion medians) into BENCHMARKS.md
	scripts/bench.sh

.PHONY: bench-compare
bench-compare: ## A/B benchmark of this tree against BASE=<git rev>: throughput and server CPU per grant, interleaved
	@[ -n "$(BASE)" ] || { echo "make bench-compare: BASE is required, e.g. make bench-compare BASE=main (optional: ROUNDS=5 RUN_SECONDS=3 BENCH_COMPARE_PROFILE=fast)" >&2; exit 2; }
	BASE="$(BASE)" scripts/bench-compare.sh

.PHONY: template-lint
template-lint: $(SAM_STAMP) ## cfn-lint and sam validate --lint on template.yaml
	@echo "==> linting template.yaml"
	cfn-lint template.yaml
	sam validate --lint

.PHONY: build
build: $(SAM_STAMP) ## sam build: the Lambda artifact (.aws-sam/build/TokenFunction-Shared/bootstrap)
	@echo "==> sam build (cargo lambda build --release; a few minutes from cold)"
	sam build

.PHONY: deploy
deploy: build ## sam build, then sam deploy --guided (needs AWS credentials)
	sam deploy --guided

.PHONY: watch
watch: $(SAM_STAMP) ## cargo lambda watch: the function behind a local Lambda runtime, http://127.0.0.1:$(WATCH_PORT)/lambda-url/token-endpoint/o/token/
	$(CARGO) lambda watch -A 127.0.0.1 -P $(WATCH_PORT)

.PHONY: watch-smoke
watch-smoke: $(VENV_STAMP) $(SAM_STAMP) ## Smoke test: a password grant through `cargo lambda watch` against moto
	@echo "==> smoke test: cargo lambda watch"
	scripts/watch-smoke.sh

.PHONY: contract
contract: $(VENV_STAMP) ## openapi.yaml: validate it, check the local server's answers against it, run schemathesis
	@echo "==> API contract: openapi.yaml validated, real answers checked against it, schemathesis"
	scripts/api-contract.sh

.PHONY: clients
clients: $(VENV_STAMP) ## The Postman collection (newman) and the documentation's curl and HTTPie samples, verbatim, against the local server
	@command -v npm >/dev/null || { echo "==> installing node and npm (newman runs the Postman collection)"; apt-get update -qq && apt-get install -y -qq nodejs npm; }
	@echo "==> client checks: postman/ with newman, the documentation's curl and HTTPie samples over TLS"
	scripts/clients.sh

.PHONY: links
links: ## Check relative links and anchors in README.md and docs/
	@echo "==> documentation links: relative links and #anchors in README.md and docs/"
	python3 scripts/check-links.py --self-test

.PHONY: lint
lint: ## Formatting and clippy, warnings as errors
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

.PHONY: dev-deps
dev-deps: $(VENV_STAMP) ## Install the test-time Python tools into .venv

$(VENV_STAMP): requirements-dev.txt
	@echo "==> installing test tools (moto's DynamoDB-compatible server) into $(VENV); one-time, about a minute"
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

$(SAM_STAMP): requirements-sam.txt
	@echo "==> installing aws-sam-cli, cargo-lambda, zig and cfn-lint into $(SAM_VENV); one-time, a few minutes"
	python3 -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-sam.txt
	@touch $@

.PHONY: clean
clean: ## Remove build output and the tool venvs
	$(CARGO) clean
	rm -rf $(VENV) $(SAM_VENV) .aws-sam fuzz/target
