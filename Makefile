# Everything a fresh machine (Python 3.11, make, git) needs, from the project's own files.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
LINT_PATHS := $(wildcard airflow_sigma dags tests benchmarks scripts docs/conf.py docs/_ext)

.PHONY: demo test lint typecheck unit docs bench venv postgres clean lock

venv: $(STAMP)

$(STAMP): requirements/lock.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check "uv==0.13.9"
	$(BIN)/uv pip sync -q --python $(BIN)/python requirements/lock.txt
	$(BIN)/uv pip install -q --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

# Re-resolve the pinned environment after changing dependencies in pyproject.toml.
lock: venv
	$(BIN)/uv pip compile -q pyproject.toml --extra amazon --extra google --extra postgres --extra snowflake --group dev \
		--python-version 3.11 -o requirements/lock.txt

postgres:
	@scripts/ensure-postgres.sh

demo: venv
	$(BIN)/python scripts/demo.py

lint: venv
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)

typecheck: venv
	$(BIN)/mypy

unit: venv postgres
	$(BIN)/pytest -n 2 $(PYTEST_ARGS)

docs: venv
	$(BIN)/sphinx-build -q -W --keep-going -b html docs docs/_build/html

test: lint typecheck docs unit

bench: venv postgres
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .demo docs/_build .pytest_cache .mypy_cache .ruff_cache
