# One way to install: a local .venv from pyproject.toml (pinned versions).
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: run test bench claims install install-test

$(VENV)/bin/python:
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

install: $(VENV)/bin/python
	$(PY) -m pip install -q -e .

install-test: $(VENV)/bin/python
	$(PY) -m pip install -q -e '.[test]'

run: install
	$(PY) -m lnexp.run --config configs/quick_compare.py

# The suite runs with lnexp.host_memory's malloc tunables, as the entry points do.
TUNABLES = $(PY) -c 'import os; from lnexp import host_memory as h; \
	print(h.with_tunables(dict(os.environ))["GLIBC_TUNABLES"])'

test: install-test
	GLIBC_TUNABLES="$$($(TUNABLES))" $(PY) -m pytest -n 2 --dist loadfile tests

bench: install
	$(PY) -m lnexp.bench

claims: install
	$(PY) -m lnexp.claims
