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

# The mutation score (slow, not in CI): mutmut over bptraf/'s pure modules, then kernel/ mutants
# against the real-XDP tests. tests/README.md records the last score.
mutants:
	scripts/setup.sh test,mutants
	rm -rf mutants
	.venv/bin/mutmut run --max-children 2 || true
	.venv/bin/python tests/mutants/score.py
	.venv/bin/python tests/mutants/kernel.py

clean:
	rm -rf .venv build *.egg-info mutants
