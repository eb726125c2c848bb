# Shortcuts for scripts/: each sets everything up first (as root).
IFACE ?=
ARGS ?=

.PHONY: setup run test bench mutants clean

setup:
	scripts/setup.sh test

run:
	scripts/run $(IFACE) $(ARGS)

test:
	scripts/test $(PYTEST_ARGS)

bench:
	scripts/bench

# The mutation score (slow, not in CI): mutmut over bptraf/, one module at a time against the tests
# that cover it (tests/mutants/run.py), then kernel/ mutants against the BPF tests of each file.
# Both run under nice, one process at a time. tests/README.md records the last score.
MUTANTS ?=

mutants:
	scripts/setup.sh test
	.venv/bin/pip install -q -e '.[test,mutants]'
	.venv/bin/python tests/mutants/run.py $(MUTANTS)
	.venv/bin/python tests/mutants/kernel.py

clean:
	rm -rf .venv build *.egg-info mutants
