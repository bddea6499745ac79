# One entry point for developers, operators and CI. Every target installs what it
# needs on first use: a fresh machine needs only Python 3.11+ and Node.js.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CDK := node_modules/.bin/cdk

export PYTHONPATH := $(CURDIR)/functions:$(CURDIR)
export CDK_DISABLE_CLI_TELEMETRY := true
export CDK_DISABLE_VERSION_CHECK := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1
export AWS_DEFAULT_REGION ?= eu-west-1

.PHONY: help install test lint typecheck unit openapi openapi-check synth deploy local demo bench clean

help:
	@echo "make demo | make test | make local | make synth | make deploy | make bench | make openapi"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

$(CDK): package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $(CDK)

install: $(STAMP) $(CDK)

lint: $(STAMP)
	$(VENV)/bin/ruff check functions infra local_stack tests bench scripts
	$(VENV)/bin/ruff format --check functions infra local_stack tests bench scripts

typecheck: $(STAMP)
	$(VENV)/bin/mypy functions/loyalty_engine infra local_stack

openapi: $(STAMP)
	$(PY) scripts/openapi.py write

openapi-check: $(STAMP)
	$(PY) scripts/openapi.py check

test: install lint typecheck openapi-check
	$(PY) -m pytest -q -p no:cacheprovider

synth: install
	$(CDK) synth --quiet

deploy: install
	$(CDK) deploy --require-approval broadening -c stage=$${STAGE:-prod}

local: $(STAMP)
	$(PY) -m local_stack serve

demo: $(STAMP)
	$(PY) -m local_stack demo

bench: $(STAMP)
	$(PY) bench/run.py

clean:
	rm -rf cdk.out .local .pytest_cache .mypy_cache .ruff_cache
