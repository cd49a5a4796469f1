# The two commands of the README are `make run` and `make test`; the rest are for developers.
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run stack test setup lint typecheck unit schemas bench clean

run: setup  ## The Đắk Lắk campaign live: the stack, the source case, 35 days in 5 minutes; Ctrl-C stops it
	$(PY) -m deploy.cli demo

stack: setup  ## The stack alone, its data kept in var/stack across runs; Ctrl-C stops it
	$(PY) -m deploy.cli stack up

test: setup lint typecheck  ## Everything CI checks: format, lint, types, the whole test suite
	$(PY) -m pytest

setup:
	@bash deploy/setup.sh

lint:
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

typecheck:
	$(VENV)/bin/mypy

unit: setup  ## Fast tests only, no servers
	$(PY) -m pytest tests/unit

schemas:  ## Re-export the events' JSON Schemas after changing a model
	$(PY) -m shared.events.schemas

bench:  ## Performance figures as ratios against a baseline (bench/README.md)
	$(PY) bench/codec.py
	$(PY) bench/producer.py
	$(PY) bench/submission.py
	$(PY) bench/scoring.py --quick
	$(PY) bench/notifier.py --quick

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
