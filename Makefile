# Two commands on a fresh clone: `make run` serves the API, `make test` runs every test.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 8000

.PHONY: venv run test lint format clean

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

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
