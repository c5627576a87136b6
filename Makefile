# The README's two commands: `make demo` and `make test`.
# Both create .venv when missing and install everything pinned; both are idempotent.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.unetaccel-installed
OUT    ?= runs/demo

.PHONY: demo test install clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# torch first: the CPU build (any other torch pulls a multi-GB CUDA build)
	$(PY) -m pip install torch==2.13.0
	$(PY) -m pip install -r requirements.txt
	$(PY) -m pip install --no-deps --no-build-isolation -e .
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/unetaccel demo --out $(OUT)

# lint (ruff), types (mypy on ir and codegen), then the suite on every core (pytest-xdist; a test
# file's tests stay on one worker, session builds are shared through file locks)
test: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy
	$(PY) -m pytest -q -n auto --dist loadfile

clean:
	rm -rf build runs .pytest_cache
