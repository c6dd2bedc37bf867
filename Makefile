# Two commands on a fresh clone: `make run` serves the API, `make test` runs every test.
# Each target installs only the layer of requirements it needs (tools/pins.py):
#   requirements-local.txt  make run and the deploy tools   (serving: about 200 MB)
#   requirements-lint.txt   make lint, make format          (serving, ruff and mypy)
#   requirements-docs.txt   make docs, make docs-build      (lint's, and MkDocs: see the file)
#   requirements-dev.txt    make test, check, bench ...     (all of them, and the test tools)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
UV     := $(BIN)/uv
PORT   ?= 8000
# The API serves on 8000 and make dynamodb-local on 8001.
DOCS_PORT ?= 8002
STAGE  ?= dev
# A layer is installed exactly as pinned: --no-deps, so nothing is resolved at install
# time; `uv pip check` then proves the pins complete. Reinstalled when its files change.
# --compile-bytecode as pip does: without .pyc files every process (each server a test
# starts, each cold-start sample) compiles botocore and the rest from source again.
INSTALL = $(UV) pip install --quiet --compile-bytecode --python $(BIN)/python --no-deps
CHECK_ENV = $(UV) pip check --quiet --python $(BIN)/python
LOCAL := $(VENV)/.installed-local
LINT  := $(VENV)/.installed-lint
DOCS  := $(VENV)/.installed-docs
DEV   := $(VENV)/.installed-dev
# pytest's workers: one per core (pytest-xdist); `make test WORKERS=0` runs in one process.
WORKERS ?= auto

.PHONY: bootstrap release rollback redrive venv run run-persistent test check lint format docs docs-build pins token openapi smoke contract fuzz bench list-cost cold-start package support deploy teardown dynamodb-local clean terraform-validate spectral

# The venv and uv in it, from PyPI with the venv's own pip: Python 3.11+ is all it needs.
$(UV): requirements-uv.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed: make PYTHON=python3.11 ...")'
	$(PYTHON) -m venv --clear $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-uv.txt
	touch $@

$(LOCAL): requirements.txt requirements-local.txt | $(UV)
	$(INSTALL) -r requirements-local.txt
	$(CHECK_ENV)
	touch $@

$(LINT): requirements.txt requirements-local.txt requirements-lint.txt | $(UV)
	$(INSTALL) -r requirements-lint.txt
	$(CHECK_ENV)
	touch $@ $(LOCAL)

$(DOCS): requirements.txt requirements-local.txt requirements-lint.txt requirements-docs.txt | $(UV)
	$(INSTALL) -r requirements-docs.txt
	$(CHECK_ENV)
	touch $@ $(LOCAL) $(LINT)

$(DEV): requirements.txt requirements-local.txt requirements-lint.txt requirements-docs.txt requirements-dev.txt | $(UV)
	$(INSTALL) -r requirements-dev.txt
	$(CHECK_ENV)
	touch $@ $(LOCAL) $(LINT) $(DOCS)

venv: $(DEV) ## create .venv with every layer: serving, linting and the development tools

run: $(LOCAL) ## serve the API on http://127.0.0.1:$(PORT) (stage "local")
	$(BIN)/chalice local --stage local --port $(PORT)

test: $(DEV) ## run the whole test suite, on every core; the log ends with its slowest 15 tests
	$(BIN)/python -m pytest -n $(WORKERS) --dist worksteal --durations=15

check: lint $(DEV) ## the inner loop: lint, then the tests that need no server, Java or browser
	HYPOTHESIS_PROFILE=check $(BIN)/python -m pytest -n $(WORKERS) -q -m "not external"

lint: $(LINT) ## ruff lint and format checks, mypy (strict), and actionlint and zizmor on the workflows
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m tools.workflows

format: $(LINT) ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

docs: $(DOCS) ## serve the documentation site on http://127.0.0.1:$(DOCS_PORT), rebuilt on every change
	$(BIN)/mkdocs serve --dev-addr 127.0.0.1:$(DOCS_PORT)

docs-build: $(DOCS) ## build the documentation site into site/ as CI does: a warning (a broken link) fails
	$(BIN)/mkdocs build --strict --site-dir site

pins: $(UV) ## resolve each requirements layer's declared lines again (tools/pins.py)
	$(BIN)/python -m tools.pins

scan: $(LOCAL) ## checkov on both stages' CloudFormation and Terraform
	$(BIN)/python -m infra.scan

release: $(LOCAL) ## move STAGE's live alias to its newest version through CodeDeploy (packaged stages)
	$(BIN)/python -m infra.release release --stage $(STAGE)

rollback: $(LOCAL) ## stop STAGE's release in progress, or move its live alias back one version at once
	$(BIN)/python -m infra.release rollback --stage $(STAGE)

redrive: $(LOCAL) ## give the stream consumer again the batches it gave up on (STAGE=dev|prod)
	$(BIN)/python -m infra.redrive --stage $(STAGE)

terraform-validate: $(LOCAL) ## terraform init (offline, local provider mirror) + validate on make package's output
	$(BIN)/python -m infra.tfvalidate

token: $(LOCAL) ## print a development ID token for user NAME (default alice), for chalice local
	@$(BIN)/python -m tools.dev_token $(if $(filter command line,$(origin NAME)),$(NAME),alice)

openapi: $(LOCAL) ## rewrite openapi.json from the app (a test fails while it differs)
	$(BIN)/python -m tools.openapi

spectral: $(DEV) ## Spectral's OpenAPI and OWASP rules on openapi.json (.spectral.yaml; npm, pinned)
	$(BIN)/python -m pytest tests/infrastructure/test_spectral.py

smoke: $(LOCAL) ## the full task flow against URL (default: make run's), TOKEN for a deployed stage
	$(BIN)/python -m tools.smoke $(or $(URL),http://127.0.0.1:$(PORT)) $(if $(TOKEN),--token "$(TOKEN)")

contract: $(DEV) ## schemathesis against chalice local, deeper: EXAMPLES per operation (default 200)
	CONTRACT_MAX_EXAMPLES=$(or $(EXAMPLES),200) $(BIN)/python -m pytest tests/server/test_contract.py

fuzz: $(DEV) ## the hypothesis fuzz tests, deeper: 2,000 examples each (make test runs 60)
	HYPOTHESIS_PROFILE=deep $(BIN)/python -m pytest -n $(WORKERS) tests/engines/test_fuzz.py

bench: $(DEV) ## benchmarks on DynamoDB Local: BENCHMARKS.md and its plot; QUICK=1 (CI) into build/bench/
	$(BIN)/python -m bench.suite $(if $(QUICK),--quick --command "make bench QUICK=1")

list-cost: $(DEV) ## list-page cost vs table size on AWS's DynamoDB Local (needs Java, npm)
	$(BIN)/python -m bench.list_cost --sizes $(or $(SIZES),100,1000,10000)

cold-start: $(DEV) ## fresh-interpreter cold start (import + first request) vs the boto3 floor, RUNS=9
	$(BIN)/python -m bench.cold_start --runs $(or $(RUNS),9)

package: $(LOCAL) ## CloudFormation and Terraform for STAGE (dev or prod) under build/STAGE/
	$(BIN)/python -m infra.package --stage $(STAGE)

bootstrap: $(LOCAL) ## GitHub Actions' OIDC roles and Terraform state bucket: build/bootstrap/bootstrap.json (docs/deploying/pipeline.md)
	$(BIN)/python -m infra.bootstrap

support: $(LOCAL) ## create/update STAGE's table, users, secret, logs and alarms for chalice deploy
	$(BIN)/python -m infra.support deploy --stage $(STAGE) $(if $(ALARM_EMAIL),--alarm-email $(ALARM_EMAIL))

deploy: $(LOCAL) ## chalice deploy STAGE, then apply its API Gateway stage settings
	$(BIN)/chalice deploy --stage $(STAGE)
	$(BIN)/python -m infra.support api-settings --stage $(STAGE)

teardown: $(LOCAL) ## delete STAGE's API (chalice delete), then its supporting stack
	$(BIN)/chalice delete --stage $(STAGE)
	$(BIN)/python -m infra.support teardown --stage $(STAGE)

run-persistent: $(LOCAL) ## serve the API on DynamoDB Local, tasks kept in DB_PATH (default .data/dynamodb)
	$(BIN)/python -m tools.dynamodb_local run-api --port $(PORT) $(if $(DB_PATH),--db-path $(DB_PATH))

dynamodb-local: $(LOCAL) ## serve DynamoDB Local on port 8001 (DB_PATH=dir keeps data)
	$(BIN)/python -m tools.dynamodb_local serve --port 8001 $(if $(DB_PATH),--db-path $(DB_PATH))

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache site
