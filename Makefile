# aqm: `make test` runs the whole suite, `make run` runs the pipeline locally.
# Both do their own set-up on a fresh Debian 12/13 machine: a pinned uv, the
# virtualenv at .venv/ from uv.lock, Mosquitto and PostgreSQL with TimescaleDB.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
UV_DIR := .aqm/uv
UV := $(UV_DIR)/bin/uv
VENV := .venv
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: run test lint services venv bench format clean-data

run: venv services
	$(VENV)/bin/aqm run

test: venv services lint
	$(VENV)/bin/pytest

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: venv services
	$(VENV)/bin/python -m bench

venv: $(VENV)/.synced

$(UV):
	scripts/bootstrap-python.sh "$(PYTHON)"
	$(PYTHON) -m venv $(UV_DIR)
	$(UV_DIR)/bin/pip install -q --disable-pip-version-check "uv==$(UV_VERSION)"

# --compile-bytecode: every command starts without compiling its imports first, also where
# PYTHONDONTWRITEBYTECODE keeps Python from caching them.
$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --all-extras --compile-bytecode --python "$$(command -v $(PYTHON))"
	touch $@

services:
	scripts/install-services.sh

clean-data:
	$(VENV)/bin/aqm services stop || true
	rm -rf .aqm/run
