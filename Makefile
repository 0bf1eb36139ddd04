# What a person runs (README.md, Commands): set-up happens inside each target, so `make check`,
# `make rehearse`, `make up STACK=dev` and `make test` work on a fresh machine.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
STACK ?= dev
# Recipes read the stack name from the environment ("$$STACK"), so no value can inject shell.
export STACK
ARGS ?=
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The embedded default state backend: a local folder beside the project, no Pulumi account needed.
export PULUMI_BACKEND_URL ?= file://$(CURDIR)/.pulumi-state

.PHONY: venv dev-venv system-deps check rehearse rehearse-destroy up destroy secrets status test \
	test-quick lint bench clean

$(VENV)/.runtime: requirements.txt constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	touch $@

venv: $(VENV)/.runtime
dev-venv: $(VENV)/.dev

system-deps:
	bash scripts/install-system-deps.sh

check: venv
	$(PY) -m preview --stack "$$STACK"

# The main job on this machine: the stack against a local Synapse-compatible server, state in
# .rehearsal/<stack>/. ARGS=--with-host also boots the server's bootstrap in a local VM (root).
rehearse: venv $(if $(findstring --with-host,$(ARGS)),system-deps)
	$(PY) -m rehearsal up --stack "$$STACK" $(ARGS)

rehearse-destroy: venv
	$(PY) -m rehearsal destroy --stack "$$STACK"

up: venv
	bash scripts/pulumi.sh up "$$STACK"

destroy: venv
	bash scripts/pulumi.sh destroy "$$STACK"

secrets: venv
	bash scripts/pulumi.sh secrets "$$STACK"

status: venv
	bash scripts/pulumi.sh status "$$STACK"

lint: dev-venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: dev-venv system-deps
	$(MAKE) --no-print-directory lint
	$(VENV)/bin/python -m pytest

test-quick: dev-venv
	$(VENV)/bin/python -m pytest -m "not vm"

bench: dev-venv
	for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || echo "== $$b failed (exit $$?)"; done

clean:
	rm -rf $(VENV) .pytest_cache
