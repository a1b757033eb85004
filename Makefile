# The two README commands: `make run` and `make test`. Both set up first.
VENV := .venv
PY := $(VENV)/bin/python
LAB ?= lab-config/sim.yaml
PYTEST_ARGS ?=

.PHONY: setup run test lint bench test-vrig clean

setup:
	@bash scripts/setup.sh

run: setup
	$(VENV)/bin/hil run --lab $(LAB)

# 4 workers on 2 cores: most tests wait on a console, a sim clock or a VM, not the CPU
test: setup
	$(VENV)/bin/ruff check hil tests suites bench
	$(PY) -m pytest -n 4 tests $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check hil tests suites bench

# every suite against the virtual rig (QEMU, TCG: minutes; boots its own guest
# unless `hil vrig serve --lab lab-config/vrig.yaml` keeps one up)
test-vrig: setup
	$(VENV)/bin/hil run --lab lab-config/vrig.yaml --workers 1 --results out/vrig/allure-results \
	  --report out/vrig/report -- $(PYTEST_ARGS)

bench: setup
	$(PY) -m bench

clean:
	rm -rf out
