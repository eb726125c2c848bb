# Shortcuts for scripts/: each sets everything up first (as root).
IFACE ?=
ARGS ?=

.PHONY: setup run test bench clean

setup:
	scripts/setup.sh test

run:
	scripts/run $(IFACE) $(ARGS)

test:
	scripts/test $(PYTEST_ARGS)

bench:
	scripts/bench

clean:
	rm -rf .venv build *.egg-info
