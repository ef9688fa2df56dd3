# fluxwire: `make run` starts the editor, `make test` runs every test, `make bench` the benchmarks.
# Each target creates .venv on first use and installs the project into it.
# `make bench COMFYUI=/path/to/ComfyUI COMFYUI_PYTHON=/its/venv/bin/python` also runs bench/vs_comfyui.py.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.fluxwire-installed
export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: run test bench install clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	# torch first, pinned, only when the venv lacks it (a local CPU wheel on the project machines)
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install "torch==2.13.0"
	$(PY) -m pip install -e ".[test]"
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/fluxwire serve

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	COMFYUI="$(COMFYUI)" COMFYUI_PYTHON="$(COMFYUI_PYTHON)" $(PY) bench/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info
