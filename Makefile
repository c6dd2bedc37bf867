# Two commands on a fresh clone: `make run` serves the API, `make test` runs every test.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
STAGE  ?= dev

.PHONY: venv run run-persistent test lint format token openapi smoke contract bench list-cost cold-start package support deploy teardown dynamodb-local clean terraform-validate spectral

$(BIN)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

venv: $(BIN)/.installed ## create .venv with the runtime and development dependencies

run: venv ## serve the API on http://127.0.0.1:$(PORT) (stage "local")
	$(BIN)/chalice local --stage local --port $(PORT)

test: venv ## run the whole test suite
	$(BIN)/python -m pytest

lint: venv ## ruff lint and format checks, as CI runs them
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

scan: venv ## checkov on both stages' CloudFormation and Terraform
	$(BIN)/python -m infra.scan

terraform-validate: venv ## terraform init (offline, local provider mirror) + validate on make package's output
	$(BIN)/python -m infra.tfvalidate

token: venv ## print a development ID token for user NAME (default alice), for chalice local
	@$(BIN)/python -m tools.dev_token $(if $(filter command line,$(origin NAME)),$(NAME),alice)

openapi: venv ## rewrite openapi.json from the app (a test fails while it differs)
	$(BIN)/python -m tools.openapi

spectral: venv ## Spectral's OpenAPI and OWASP rules on openapi.json (.spectral.yaml; npm, pinned)
	$(BIN)/python -m pytest tests/test_spectral.py

smoke: venv ## the full task flow against URL (default: make run's), TOKEN for a deployed stage
	$(BIN)/python -m tools.smoke $(or $(URL),http://127.0.0.1:$(PORT)) $(if $(TOKEN),--token "$(TOKEN)")

contract: venv ## schemathesis against chalice local, deeper: EXAMPLES per operation (default 200)
	CONTRACT_MAX_EXAMPLES=$(or $(EXAMPLES),200) $(BIN)/python -m pytest tests/test_contract.py

bench: venv ## benchmarks on DynamoDB Local: BENCHMARKS.md and its plot; QUICK=1 (CI) into build/bench/
	$(BIN)/python -m bench.suite $(if $(QUICK),--quick --command "make bench QUICK=1")

list-cost: venv ## list-page cost vs table size on AWS's DynamoDB Local (needs Java, npm)
	$(BIN)/python -m bench.list_cost --sizes $(or $(SIZES),100,1000,10000)

cold-start: venv ## fresh-interpreter cold start (import + first request) vs the boto3 floor, RUNS=9
	$(BIN)/python -m bench.cold_start --runs $(or $(RUNS),9)

package: venv ## CloudFormation and Terraform for STAGE (dev or prod) under build/STAGE/
	$(BIN)/python -m infra.package --stage $(STAGE)

support: venv ## create/update STAGE's table, users, secret, logs and alarms for chalice deploy
	$(BIN)/python -m infra.support deploy --stage $(STAGE) $(if $(ALARM_EMAIL),--alarm-email $(ALARM_EMAIL))

deploy: venv ## chalice deploy STAGE, then apply its API Gateway stage settings
	$(BIN)/chalice deploy --stage $(STAGE)
	$(BIN)/python -m infra.support api-settings --stage $(STAGE)

teardown: venv ## delete STAGE's API (chalice delete), then its supporting stack
	$(BIN)/chalice delete --stage $(STAGE)
	$(BIN)/python -m infra.support teardown --stage $(STAGE)

run-persistent: venv ## serve the API on DynamoDB Local, tasks kept in DB_PATH (default .data/dynamodb)
	$(BIN)/python -m tools.dynamodb_local run-api --port $(PORT) $(if $(DB_PATH),--db-path $(DB_PATH))

dynamodb-local: venv ## serve DynamoDB Local on port 8001 (DB_PATH=dir keeps data)
	$(BIN)/python -m tools.dynamodb_local serve --port 8001 $(if $(DB_PATH),--db-path $(DB_PATH))

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
