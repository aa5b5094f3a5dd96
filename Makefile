# spoolwatch — one task runner for people and CI.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test lint bench services browser clean

# The long steps say what they do first; pip shows its own progress.
$(BIN)/python:
	@echo "==> creating the virtual environment $(VENV) with $(PYTHON)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	@echo "==> installing spoolwatch and its dependencies into $(VENV) (a few minutes the first time)"
	$(BIN)/python -m pip install -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

## demo: run the whole system on the embedded default (SQLite, filesystem spool, 127.0.0.1)
demo: $(STAMP)
	$(BIN)/spoolwatch demo $(DEMO_ARGS)

## test: install everything, make sure the local services answer, run the suite
test: $(STAMP) services browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## services: make sure RabbitMQ and PostgreSQL on 127.0.0.1 answer (start them if installed)
services:
	@bash scripts/ensure-services.sh

## browser: Debian's chromium for the dashboard tests (never a downloaded browser build)
browser:
	@bash scripts/ensure-browser.sh

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
