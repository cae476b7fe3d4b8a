# Binglian 并联审批 — the two commands: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install install-dev run test bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# reinstall only when the requirement files change
$(STAMP)-runtime: requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(STAMP)-dev: requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@ $(STAMP)-runtime

install: $(STAMP)-runtime

install-dev: $(STAMP)-dev
	bash scripts/install-test-deps.sh postgresql chromium

## Install, then start the app on the embedded SQLite database with demo data.
run: install
	$(PY) run.py

## Install what the tests need, then run the whole suite (TEST_WORKERS processes, one file each at a time).
TEST_WORKERS ?= 2
test: install-dev
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

## Full benchmark run; writes BENCHMARKS.md and bench/results/*.json.
bench: install-dev
	$(PY) -m bench.run

clean:
	rm -rf $(VENV) instance .pytest_cache test-artifacts
