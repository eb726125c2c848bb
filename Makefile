# bptraf: `make run IFACE=eth0` and `make test` set everything up first (as root).
IFACE ?=
ARGS ?=
PY := .venv/bin/python

.PHONY: setup setup-test run test lint bench clean

setup:
	./scripts/setup.sh

setup-test:
	./scripts/setup.sh test

run: setup
	.venv/bin/bptraf $(IFACE) $(ARGS)

test: setup-test
	$(PY) -m ruff check bptraf tests bench
	$(PY) -m ruff format --check bptraf tests bench
	$(PY) -m pytest -ra $(PYTEST_ARGS)

lint: setup-test
	$(PY) -m ruff check bptraf tests bench
	$(PY) -m ruff format --check bptraf tests bench

bench: setup-test
	$(PY) -m bench

clean:
	rm -rf .venv build *.egg-info
