# Two entry points, both self-contained on a fresh Debian machine with Python >= 3.10:
#   make demo   set up, fetch the model and photos, run the main job
#   make test   set up, fetch, run the default test tier
# Other targets: make bench (benchmarks), make test-slow (the slow tier), make clean.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# torch: exactly this version is a local CPU build on our machines; any other spec pulls GBs of CUDA.
TORCH  ?= torch==2.13.0

.PHONY: setup system demo test test-slow bench clean

# Debian packages: a C++ compiler for the HLS C simulation (required), yosys and Icarus Verilog for
# the rtl test tier (optional: its tests skip with the reason when missing). Root or sudo only when needed.
system:
	@SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	command -v g++ >/dev/null 2>&1 || { $$SUDO apt-get update -q >/dev/null && $$SUDO apt-get install -y -q g++ make; } \
	  || { echo "g++ is required for the C simulation; install it (apt-get install g++)"; exit 1; }; \
	command -v yosys >/dev/null 2>&1 || { { $$SUDO apt-get update -q && $$SUDO apt-get install -y -q yosys; } \
	  >/dev/null 2>&1 || echo "yosys not installed: the rtl synthesis tests will skip"; }; \
	command -v iverilog >/dev/null 2>&1 || { { $$SUDO apt-get update -q && $$SUDO apt-get install -y -q iverilog; } \
	  >/dev/null 2>&1 || echo "iverilog not installed: the rtl simulation tests will skip"; }

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e ".[torch,test]"
	touch $@

setup: system $(VENV)/.installed
	$(BIN)/zynqyolo fetch

demo: setup
	$(BIN)/zynqyolo demo

test: setup
	$(BIN)/pytest -q --durations=25

test-slow: setup
	$(BIN)/pytest -q -m slow

bench: setup
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) build out *.egg-info
