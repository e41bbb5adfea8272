# One way to install: a local .venv from pyproject.toml's ranges, with the exact
# versions of constraints.txt (the lock). `install` adds the [report] extra, so
# that run, report, bench and claims all work from it.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install -q -c constraints.txt

.PHONY: run test bench claims install install-test constraints

$(VENV)/bin/python:
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

install: $(VENV)/bin/python
	$(PIP) -e '.[report]'

install-test: $(VENV)/bin/python
	$(PIP) -e '.[test]'

run: install
	$(PY) -m lnexp.run --config configs/quick_compare.py

# The suite runs with lnexp.runtime.host_memory's malloc tunables, as the entry points do.
TUNABLES = $(PY) -c 'import os; from lnexp.runtime import host_memory as h; \
	print(h.with_tunables(dict(os.environ))["GLIBC_TUNABLES"])'

test: install-test
	GLIBC_TUNABLES="$$($(TUNABLES))" $(PY) -m pytest -n 2 --dist loadfile tests

bench: install
	$(PY) -m lnexp.bench

claims: install
	$(PY) -m lnexp.claims

# Regenerates constraints.txt from a clean venv (see its header). LOCK_FROM=FILE
# keeps FILE's pins (e.g. when adding one dependency; pip says if one no longer fits).
LOCK_VENV ?= /tmp/lnexp-lock-venv
LOCK_FROM ?=
constraints:
	rm -rf $(LOCK_VENV)
	python3 -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install -q --upgrade pip
	$(LOCK_VENV)/bin/python -m pip install -q $(if $(LOCK_FROM),-c $(LOCK_FROM)) \
	  -e '.[test,tensorboard,notebook]'
	$(LOCK_VENV)/bin/python -m pip check
	{ sed -n '/^[^#]/q;p' constraints.txt; \
	  $(LOCK_VENV)/bin/python -m pip freeze --all --exclude-editable | grep -v '^pip=='; \
	} > constraints.txt.new
	mv constraints.txt.new constraints.txt
