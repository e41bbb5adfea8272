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

test: install-test
	GLIBC_TUNABLES=glibc.malloc.hugetlb=1:glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=4294967295 $(PY) -m pytest -n 2 --dist loadfile tests

bench: install
	$(PY) -m lnexp.bench

claims: install
	$(PY) -m lnexp.claims
