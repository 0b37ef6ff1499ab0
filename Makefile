# imagerollout: `make demo` runs a rollout on the embedded local cluster; `make test` runs all tests.
SHELL := /bin/bash
VENV := .venv/bin
PYTEST := $(VENV)/pytest

.PHONY: deps cluster cluster-down demo test lint unit e2e crd clean prometheus-up prometheus-down

deps:
	@scripts/install-deps.sh

cluster: deps
	@scripts/cluster-up.sh

cluster-down:
	@scripts/cluster-down.sh

prometheus-up:
	@scripts/prometheus-up.sh

prometheus-down:
	@scripts/prometheus-down.sh

demo: deps
	@scripts/demo.sh

lint: deps
	$(VENV)/ruff check operator tests
	$(VENV)/ruff format --check operator tests
	$(VENV)/mypy --strict operator tests
	$(VENV)/lint-imports

unit: deps
	$(PYTEST) -m "not e2e" -q

e2e: cluster
	$(PYTEST) -m e2e -v --durations=15

test: lint unit e2e

crd: deps
	$(VENV)/imagerollout crd --output crds/imagemodelrollouts.imagerollout.dev.yaml

clean:
	@scripts/prometheus-down.sh
	@scripts/cluster-down.sh --purge
	@rm -rf .cache/prometheus
