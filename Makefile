# The two commands of the README are `make run` and `make test`; the rest are for developers.
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run stack test setup lint typecheck unit schemas bench bench-full clean

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

# Every benchmark in bench/ is listed here (tests/unit/test_bench_table.py checks it). One that
# fails is recorded and the others still run; the table says which failed, and make fails.
# BENCH_SIZE shrinks the two long ones (scoring: 50 min at full size; notifier: 5 min).
BENCH_SIZE ?= --quick
BENCH := $(PY) -m bench.table

bench:  ## Every benchmark (about 15 min), then BENCHMARKS.md: ratios against a baseline (bench/README.md)
	$(BENCH) start
	$(BENCH) run bench/codec.py
	$(BENCH) run bench/producer.py
	$(BENCH) run bench/submission.py
	$(BENCH) run bench/scoring.py $(BENCH_SIZE)
	$(BENCH) run bench/notifier.py $(BENCH_SIZE)
	$(BENCH) write

bench-full:  ## make bench at the issue's sizes (about an hour)
	$(MAKE) bench BENCH_SIZE=

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
