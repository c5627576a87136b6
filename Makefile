# The README's two commands: `make demo` and `make test`.
# Both create .venv when missing and install everything pinned; both are idempotent.
# `make install` and `make test` also install Icarus Verilog (Debian's iverilog: the four-state RTL
# runs and the FSIC system) and the RISC-V cross compiler (gcc-riscv64-unknown-elf: the FSIC
# firmware) with apt-get when they are missing: that needs root (as CI runs); otherwise they stop
# and say what to install.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.unetaccel-installed
OUT    ?= runs/demo
# options for `unetaccel demo`, e.g. make demo ARGS="--epochs 2 --widths 4,8,16 --size 32x32"
ARGS   ?=

.PHONY: demo test install tools clean

install: $(STAMP) tools

tools:
	@command -v iverilog >/dev/null 2>&1 || { echo "installing Icarus Verilog (apt-get install -y iverilog)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iverilog; } || \
	  { echo "error: Icarus Verilog (iverilog) is missing and could not be installed: run" \
	    "'apt-get install -y iverilog' as root" >&2; exit 1; }
	@command -v riscv64-unknown-elf-gcc >/dev/null 2>&1 || { echo "installing the RISC-V cross compiler" \
	  "(apt-get install -y gcc-riscv64-unknown-elf)"; apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc-riscv64-unknown-elf; } || \
	  { echo "error: the RISC-V cross compiler (riscv64-unknown-elf-gcc, for the FSIC firmware) is missing and" \
	    "could not be installed: run 'apt-get install -y gcc-riscv64-unknown-elf' as root" >&2; exit 1; }

# torch first: the CPU build (any other torch pulls a multi-GB CUDA build). pip's output goes to
# $(VENV)/install.log; a failure prints its last lines and names it.
$(STAMP): pyproject.toml requirements.txt
	@echo "installing the pinned packages into $(VENV) (log: $(VENV)/install.log)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@{ $(PY) -m pip install torch==2.13.0 && $(PY) -m pip install -r requirements.txt && \
	   $(PY) -m pip install --no-deps --no-build-isolation -e . ; } > $(VENV)/install.log 2>&1 || \
	  { tail -n 15 $(VENV)/install.log >&2; echo "error: the install failed: see $(VENV)/install.log" >&2; exit 1; }
	@touch $(STAMP)

# the FSIC checkout the demo's last rung runs in (FSIC_FPGA_ROOT; here, one laid beside the clone)
export FSIC_FPGA_ROOT ?= $(wildcard $(CURDIR)/../shared/fsic_fpga)

demo: $(STAMP)
	$(VENV)/bin/unetaccel demo --out $(OUT) $(ARGS)

# lint (ruff), types (mypy on ir and codegen), then the suite on every core (pytest-xdist; a test
# file's tests stay on one worker, session builds are shared through file locks) in a shuffled order
# (pytest-randomly, a new seed every run, printed first: `make test SEED=N` replays that order;
# PYTEST_ARGS="-p no:randomly" keeps the files' order)
ifeq ($(SEED),)
SEED := $(shell od -An -N4 -tu4 /dev/urandom | tr -d ' ')
endif
test: $(STAMP) tools
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy
	@echo "test order: pytest-randomly seed $(SEED) (replay it with: make test SEED=$(SEED))"
	$(PY) -m pytest -q -rs -n auto --dist loadfile -p randomly --randomly-seed=$(SEED) $(PYTEST_ARGS)

clean:
	rm -rf build runs .pytest_cache
