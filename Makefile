# Two commands: `make demo` (main job on the embedded synthetic world) and `make test`.
# Each installs what it needs into the project-local virtual environment .venv.
# No torch in .venv yet -> TORCH_SPEC is installed (the CPU wheel that lies on disk here).
# A GPU user installs a CUDA torch into .venv first (see README) and this step keeps it.
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
PY := $(VENV)/bin/python

.PHONY: demo demo-captioning test bench bench-gpu install
install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[test]"
	touch $@

demo: install
	$(VENV)/bin/groundbench demo

demo-captioning: install
	$(VENV)/bin/groundbench demo --task captioning

test: install
	$(PY) -m pytest -q

bench: install
	$(PY) -m benchmarks.run_all

# GPU throughput at the real model size (benchmarks/gpu.py); `make bench-gpu ARGS=--small` runs it CPU-sized.
bench-gpu: install
	$(PY) -m benchmarks.gpu $(ARGS) $(BENCH_ARGS)
