# The README's two commands: `make demo` and `make test`.
# Both create .venv when missing and install everything pinned; both are idempotent.
# `make install` and `make test` also install Icarus Verilog (Debian's iverilog: the four-state RTL
# runs and the FSIC system), Tcl (Debian's tcl: tclsh runs the generated Vivado scripts with Vivado's
# commands stubbed) and the RISC-V cross compiler (gcc-riscv64-unknown-elf: the FSIC
# firmware) with apt-get when they are missing: that needs root (as CI runs); otherwise they stop
# and say what to install.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.unetaccel-installed
OUT    ?= runs/demo
# options for `unetaccel demo`, e.g. make demo ARGS="--epochs 2 --widths 4,8,16 --size 32x32"
ARGS   ?=

# `make smoke PYTHON=python3.13`: the suite's torch-free part on another Python (CI runs it on 3.13), in a venv
# of its own named after that Python (python3.13 -> .venv313; never .venv): the pins of requirements.txt
# without their dependencies, so without torch (PyPI's torch for 3.12/3.13 is a multi-GB CUDA build).
SMOKE_VENV  ?= .venv$(subst python,,$(subst .,,$(notdir $(PYTHON))))
SMOKE_PY    := $(SMOKE_VENV)/bin/python
SMOKE_STAMP := $(SMOKE_VENV)/.unetaccel-smoke-installed

.PHONY: demo test smoke install tools clean

install: $(STAMP) tools

tools:
	@command -v iverilog >/dev/null 2>&1 || { echo "installing Icarus Verilog (apt-get install -y iverilog)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iverilog; } || \
	  { echo "error: Icarus Verilog (iverilog) is missing and could not be installed: run" \
	    "'apt-get install -y iverilog' as root" >&2; exit 1; }
	@command -v tclsh >/dev/null 2>&1 || { echo "installing Tcl (apt-get install -y tcl)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tcl; } || \
	  { echo "error: Tcl's shell (tclsh, for the Vivado scripts' checks) is missing and could not be installed:" \
	    "run 'apt-get install -y tcl' as root" >&2; exit 1; }
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

# The smoke run: `pytest --torch-free -m "not slow"` on SMOKE_TESTS, a cross-section of the suite's torch-free
# part chosen to run in a few minutes on 2 cores: the IR and its reference, codegen, scores, tiling (its csim
# case), layering and the torch-free API tests (pure Python); the C/HLS kernels and csim of random networks
# (g++); the RTL of a random network under Verilator (the accelerator back to back, the AXI protocol cases,
# the stream grid, the engine and the register block alone) and under Icarus (the engine; the whole network's
# class map); the FSIC codegen, FSIC's own testbench with our project (Icarus), the drop-in's commands, the
# board design's Tcl and the board level's sources and handoff (skipped, with the reason, when
# FSIC_FPGA_ROOT is unset: .ci/run sets it); the PYNQ driver on the simulated board (tests/pynq, about
# a minute). --torch-free (tests/conftest.py) leaves out tests/cli, tests/model, tests/quant and every test
# marked torch or using the trained network, and the summary lists them; torch is not installed here, so a
# selected test that needs it fails. No lint or mypy (make test runs them on 3.11). A renamed test in
# SMOKE_TESTS fails the run (pytest: not found).
SMOKE_TESTS := tests/ir tests/test_scores.py tests/test_layering.py tests/test_api.py tests/test_threads.py tests/test_docs.py \
  tests/codegen/test_cache.py tests/codegen/test_hls_model.py tests/codegen/test_place.py \
  tests/test_tiling.py::test_starts_and_the_stitching_rule tests/test_tiling.py::test_tiles_of_a_map_stitch_back_without_a_seam \
  tests/test_tiling.py::test_one_tile_equals_plain_inference_and_several_tiles_have_the_shape \
  'tests/test_tiling.py::test_tiled_inference_on_hardware_equals_the_reference[csim]' \
  tests/hls/test_kernels.py tests/hls/test_csim.py::test_non_default_random_networks \
  tests/hls/test_csim.py::test_cli_csim_prints_mismatches_and_exit_codes \
  tests/rtl_sim/test_rtl_codegen.py tests/rtl_sim/test_regmap.py tests/rtl_sim/test_vivado_tcl.py \
  tests/rtl_sim/unet_accel/test_unet_accel.py::test_small_network_back_to_back \
  tests/rtl_sim/unet_accel/test_unet_accel.py::test_protocol tests/rtl_sim/unet_accel/test_unet_accel.py::test_stream_grid \
  tests/rtl_sim/unet_accel/test_unet_accel.py::test_testbench_fails_on_its_own_on_a_wrong_output \
  tests/rtl_sim/unet_core tests/rtl_sim/unet_regs tests/rtl_sim/unet_accel/test_icarus.py::test_whole_network_class_map_under_icarus \
  tests/fsic/test_fsic_codegen.py tests/fsic/test_fsic_own_testbench.py tests/fsic/test_fsic_board.py \
  tests/fsic/test_fsic_dropin.py tests/fsic/test_board.py::test_board_sources_are_fsics_board_list_without_its_example \
  tests/fsic/test_board.py::test_board_hwh_gives_the_driver_its_instances \
  tests/fsic/test_board.py::test_read_hex_places_bytes_at_their_addresses \
  tests/codegen/test_pynq_project.py tests/codegen/test_bitstream_cli.py tests/pynq tests/rtl_sim/unet_accel_ip

smoke: $(SMOKE_STAMP) tools
	$(SMOKE_PY) --version
	@echo "test order: pytest-randomly seed $(SEED) (replay it with: make smoke SEED=$(SEED))"
	$(SMOKE_PY) -m pytest -q -rs -n auto --dist loadfile -p randomly --randomly-seed=$(SEED) --torch-free -m "not slow" \
	  $(SMOKE_TESTS)

$(SMOKE_STAMP): pyproject.toml requirements.txt
	@$(PYTHON) -c "import venv" >/dev/null 2>&1 || { echo "error: $(PYTHON) does not run: install that Python" \
	  "(e.g. 'pyenv install 3.13.0', or Debian's python3.13 and python3.13-venv) or pass its path (with pyenv:" \
	  "PYTHON=\$$(pyenv prefix 3.13)/bin/python3.13)" >&2; exit 1; }
	@echo "installing the pinned packages but torch into $(SMOKE_VENV) (log: $(SMOKE_VENV)/install.log)"
	@test -x $(SMOKE_PY) || $(PYTHON) -m venv $(SMOKE_VENV)
	@{ $(SMOKE_PY) -m pip install --no-deps -r requirements.txt && \
	   $(SMOKE_PY) -m pip install --no-deps --no-build-isolation -e . ; } > $(SMOKE_VENV)/install.log 2>&1 || \
	  { tail -n 15 $(SMOKE_VENV)/install.log >&2; echo "error: the install failed: see $(SMOKE_VENV)/install.log" >&2; \
	    exit 1; }
	@touch $(SMOKE_STAMP)

clean:
	rm -rf build runs .pytest_cache
