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

test: $(STAMP) ## Unit, integration and adversarial tests against a real OpenBao (what CI runs)
	$(BIN)/pytest

adversarial: $(STAMP) ## The adversarial tier, deep: ~10x the generated requests (ADVERSARIAL_LONG=1)
	ADVERSARIAL_LONG=1 $(BIN)/pytest -q --timeout=900 tests/adversarial

lint: $(STAMP) ## ruff + mypy --strict
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy sidecar/src sidecar/tests operator/src operator/tests tests bench scripts devkit

fmt: $(STAMP) ## Format and autofix with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

##@ Kubernetes

CHART := charts/vault-mcp-bridge
KIND_CLUSTER ?= vault-mcp-e2e
IMAGE_TAG ?= 0.1.0
OPERATOR_IMAGE ?= vault-mcp-operator:$(IMAGE_TAG)
SIDECAR_IMAGE ?= vault-mcp-sidecar:$(IMAGE_TAG)

chart: $(STAMP) sync-crds ## Lint (strict) and render the Helm chart with Helm's Go SDK; schema and kubernetes-validate checks
	$(BIN)/pytest -q tests/chart

sync-crds: ## Copy crds/ into the chart (Helm installs the chart's crds/ but never upgrades them)
	@mkdir -p $(CHART)/crds
	@rm -f $(CHART)/crds/*.yaml
	cp crds/*.yaml $(CHART)/crds/

manifests: $(STAMP) sync-crds ## Render manifests/install.yaml (kubectl users) from the chart
	$(BIN)/python -m tests.chart.chartkit manifests

images: ## Build the operator and sidecar images (needs a running Docker engine)
	@docker info >/dev/null 2>&1 || { echo "no Docker engine: make images needs one" >&2; exit 1; }
	docker build -f operator/Dockerfile -t $(OPERATOR_IMAGE) .
	docker build -f sidecar/Dockerfile -t $(SIDECAR_IMAGE) .

kind-up: ## Create the kind cluster for e2e (idempotent)
	@command -v kind >/dev/null || { echo "kind not found: https://kind.sigs.k8s.io" >&2; exit 1; }
	@kind get clusters 2>/dev/null | grep -qx '$(KIND_CLUSTER)' \
		|| kind create cluster --name $(KIND_CLUSTER) --config tests/e2e/kind-config.yaml --wait 120s

kind-down: ## Delete the kind cluster (idempotent)
	@command -v kind >/dev/null || exit 0
	@kind get clusters 2>/dev/null | grep -qx '$(KIND_CLUSTER)' && kind delete cluster --name $(KIND_CLUSTER) || true

e2e: $(STAMP) ## kind end-to-end: OpenBao + chart + VaultAgent + injected sidecar (skips without Docker/kind)
	KIND_CLUSTER=$(KIND_CLUSTER) OPERATOR_IMAGE=$(OPERATOR_IMAGE) SIDECAR_IMAGE=$(SIDECAR_IMAGE) \
		$(BIN)/pytest -q -p no:cacheprovider --timeout=1200 tests/e2e

##@ Performance

bench: $(STAMP) ## wrk: sidecar (4 modes) vs direct OpenBao vs bao agent; operator apply; cold start; webhook
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.operator
	$(BIN)/python -m bench.coldstart
	$(BIN)/python -m bench.webhook

bench-scaling: $(STAMP) ## 1..1,000 agents: one sidecar's req/s + RSS, the operator's convergence; docs/scaling.png
	$(BIN)/python -m bench.scaling

bench-profile: $(STAMP) ## py-spy on the sidecar under wrk load: where a read's CPU goes
	$(BIN)/python -m bench.profile

.PHONY: help install demo test adversarial lint fmt bench bench-scaling bench-profile chart sync-crds manifests images kind-up kind-down e2e
