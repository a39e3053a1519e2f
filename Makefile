# Two commands for a fresh machine:  make demo  (a recorded simulated session)  ·  make test
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PACKAGES := haptics drivers sim

.PHONY: demo test lint typecheck pytest firmware-test clean venv system-deps

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

## demo: a 10 s simulated palpation session, recorded under ./sessions
demo: $(STAMP)
	$(BIN)/haptics run --scene palpation --duration 10
	@$(BIN)/haptics sessions list

## test: lint, type check, firmware unit tests and the whole pytest suite
test: system-deps $(STAMP) lint typecheck firmware-test pytest

## system-deps: Debian packages the tests need (C and ARM compilers, PostgreSQL), if missing
system-deps:
	bash scripts/install-system-deps.sh

lint: $(STAMP)
	$(BIN)/ruff check $(PACKAGES) tests
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

firmware-test:
	@if [ -f firmware/Makefile ]; then $(MAKE) -C firmware test; fi

pytest: system-deps $(STAMP)
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache firmware/build
