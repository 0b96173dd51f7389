# Command index. `make run` and `make test` are all a fresh machine needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
VENV_STAMP := $(VENV)/.installed
CARGO ?= cargo
PORT ?= 9000

.PHONY: help
help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  %-10s %s\n", $$1, $$2}'

.PHONY: run
run: ## Run the token endpoint on http://127.0.0.1:$(PORT)/o/token/ with the seeded memory store
	PORT=$(PORT) $(CARGO) run --bin token-endpoint -- --store memory

.PHONY: test
test: $(VENV_STAMP) ## Run every test (installs moto into .venv on first use)
	@command -v curl >/dev/null || { echo "==> installing curl (the local-server test runs the documented curl samples)"; apt-get update -qq && apt-get install -y -qq curl; }
	$(CARGO) test --all-targets

.PHONY: lint
lint: ## Formatting and clippy, warnings as errors
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

.PHONY: build
build: ## Release build of both binaries
	$(CARGO) build --release

.PHONY: dev-deps
dev-deps: $(VENV_STAMP) ## Install the test-time Python tools into .venv

$(VENV_STAMP): requirements-dev.txt
	@echo "==> installing test tools (moto's DynamoDB-compatible server) into $(VENV); one-time, about a minute"
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

.PHONY: clean
clean: ## Remove build output and the tool venv
	$(CARGO) clean
	rm -rf $(VENV)
