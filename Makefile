# 秒批 miaopi — the two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DB ?= var/demo.db

.PHONY: demo test lint typecheck golden unit install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/miaopi data load samples/shared-data --db sqlite:///$(DEMO_DB)
	$(BIN)/python -m miaopi.demo --db sqlite:///$(DEMO_DB)

lint: $(STAMP)
	$(BIN)/ruff check engine store miaopi tests benchmarks samples
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest

golden: $(STAMP)
	$(BIN)/miaopi lint rulesets
	$(BIN)/miaopi test rulesets/deed-tax --require-full-coverage
	$(BIN)/miaopi test rulesets/safety-permit-renewal --require-full-coverage

# pytest runs last so that its summary is the closing line
test: lint typecheck golden unit

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
