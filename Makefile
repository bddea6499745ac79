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

.PHONY: help install chromium test lint typecheck unit openapi openapi-check synth deploy local demo bench clean run-job sync-schedules quotas e2e diff

help:
	@echo "make demo | make test | make local | make synth | make diff [STAGE=dev] | make deploy [STAGE=dev] | make e2e [STAGE=dev] | make bench | make openapi"
	@echo "make run-job JOB=tier-upgrade PROGRAM=club AT=2026-01-01T00:00:00+01:00 [GROUP=demo] [STAGE=dev] [DRY_RUN=1] | make sync-schedules [STAGE=dev]"
	@echo "  run-job: a program's scheduled job as of an instant up to now (DRY_RUN=1: any instant, nothing written)"
	@echo "make quotas ARGS=\"show --group demo\" [STAGE=dev]  (a group's request limits: docs/quotas.md)"
	@echo "  run-job, sync-schedules, quotas: on the running local stack (.local/stack.json), else on the deployed STAGE (its outputs), else on TABLE_NAME"
	@echo "  e2e: the smoke suite on a fresh local stack, or on a deployed STAGE with E2E_API_KEY (an admin key of that stage)"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

$(CDK): package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $(CDK)

install: $(STAMP) $(CDK)

# The console's browser tests (tests/browser) drive the distribution's Chromium: Playwright's own
# browser download is not used. Installed here when none is found and apt-get can run as root;
# otherwise those tests fail with a message saying how to get one (or set CHROMIUM_PATH).
chromium:
	@if [ -n "$$CHROMIUM_PATH" ] || command -v chromium >/dev/null || command -v chromium-browser >/dev/null \
		|| command -v google-chrome >/dev/null || command -v google-chrome-stable >/dev/null; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		echo "chromium: none found, installing the distribution's package" >&2; \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
			|| echo "chromium: apt-get could not install it: the browser tests will fail" >&2; \
	else \
		echo "chromium: none found and apt-get cannot run as root here: the browser tests will fail" >&2; \
	fi

lint: $(STAMP)
	$(VENV)/bin/ruff check functions infra local_stack tests bench scripts
	$(VENV)/bin/ruff format --check functions infra local_stack tests bench scripts

typecheck: $(STAMP)
	$(VENV)/bin/mypy functions/loyalty_engine infra local_stack

openapi: $(STAMP)
	$(PY) scripts/openapi.py write
	$(PY) scripts/event_schemas.py write

openapi-check: $(STAMP)
	$(PY) scripts/openapi.py check
	$(PY) scripts/event_schemas.py check

test: install chromium lint typecheck openapi-check
	$(PY) -m pytest -q -p no:cacheprovider

synth: install
	$(CDK) synth --quiet

# What a deploy of STAGE (default prod) would change in its stack.
diff: install
	$(CDK) diff -c stage=$${STAGE:-prod} $(CDK_ARGS)

# CDK_ARGS: more options for the CDK CLI, e.g. CDK_ARGS="-c api_gateway_cloudwatch_role=true".
# deploy_id (the time of the deploy) makes the stack sync the program schedules on every deploy.
deploy: install
	$(CDK) deploy --all --require-approval broadening -c stage=$${STAGE:-prod} \
		-c deploy_id=$$(date -u +%Y%m%dT%H%M%SZ) $(CDK_ARGS)

local: $(STAMP)
	$(PY) -m local_stack serve

demo: $(STAMP)
	$(PY) -m local_stack demo

# The environment of an operator's command (run-job, sync-schedules): the running local stack
# if its state file exists (`make local`); else the deployed stage STAGE (its stack's outputs,
# with the caller's credentials and region); else the caller's own environment (TABLE_NAME, ...).
LOCAL_STATE_FILE ?= .local/stack.json
define operator_env
	if [ -f "$(LOCAL_STATE_FILE)" ]; then \
		exports="$$(LOCAL_STATE_FILE="$(LOCAL_STATE_FILE)" $(PY) -m local_stack env)" || exit $$?; \
		eval "$$exports"; \
		echo "$@: the local stack at $$AWS_ENDPOINT_URL, table $$TABLE_NAME" >&2; \
	elif [ -n "$(STAGE)" ]; then \
		exports="$$($(PY) scripts/stack_env.py "$(STAGE)")" || exit $$?; \
		eval "$$exports"; \
		echo "$@: stage $(STAGE), table $$TABLE_NAME, region $${AWS_REGION:-$$AWS_DEFAULT_REGION}" >&2; \
	elif [ -z "$$TABLE_NAME" ]; then \
		echo "$@: no local stack ($(LOCAL_STATE_FILE) does not exist), no STAGE, and TABLE_NAME is not set." >&2; \
		echo "  Start one with 'make local', or name a deployed stage: STAGE=dev (AWS credentials and region)." >&2; \
		exit 2; \
	else \
		echo "$@: AWS, table $$TABLE_NAME, region $${AWS_REGION:-$$AWS_DEFAULT_REGION}" >&2; \
	fi
endef

# A scheduled job run now "as of" AT (time travel), every member shard in this process.
run-job: $(STAMP)
	@if [ -z "$(JOB)" ] || [ -z "$(PROGRAM)" ] || [ -z "$(AT)" ]; then \
		echo "usage: make run-job JOB=tier-upgrade PROGRAM=club AT=2026-01-01T00:00:00+01:00 [GROUP=demo] [STAGE=dev] [DRY_RUN=1]" >&2; \
		echo "  JOB: tier-upgrade | tier-downgrade | expire-points | reconcile" >&2; exit 2; \
	fi
	@$(operator_env); \
	$(PY) -m loyalty_engine.cli run-job --group "$(or $(GROUP),demo)" --program "$(PROGRAM)" --job "$(JOB)" --at "$(AT)" $(if $(DRY_RUN),--dry-run)

# A group's request limits (docs/quotas.md), on the running local stack or STAGE:
# make quotas ARGS="set --group demo --rate 2 --burst 5 [--quota 1000] | set --group demo --default | show --group demo"
quotas: $(STAMP)
	@$(operator_env); \
	$(PY) -m loyalty_engine.cli quotas $(ARGS)

# Every program's schedules in line with the table, as after every deploy.
sync-schedules: $(STAMP)
	@$(operator_env); \
	$(PY) -m loyalty_engine.cli sync-schedules

# The smoke suite (tests/e2e): HTTP, a partner file and a scheduled run, on a fresh local stack
# (it runs inside `make test` too), or on a deployed stage, `make e2e STAGE=dev`: the stack's
# outputs, E2E_API_KEY (an admin key of that stage) and the caller's AWS credentials and region.
e2e: $(STAMP)
	E2E_STAGE="$(STAGE)" $(PY) -m pytest -q -p no:cacheprovider tests/e2e

bench: $(STAMP)
	$(PY) bench/run.py

clean:
	rm -rf cdk.out .local .pytest_cache .mypy_cache .ruff_cache
