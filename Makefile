# pianodiff — every target creates the virtual environment on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NOTES_STAMP := $(VENV)/.notes-installed
# The note measure's transcriber. basic-pitch's metadata pulls TensorFlow on Linux, which
# its ONNX model does not need: install it without dependencies, then the extra.
BASIC_PITCH := basic-pitch==0.4.0
SET ?= piano14
# glibc's allocator page-faults heavily on large conv buffers on CPU; these keep freed
# memory in the heap (measured: a 5 s base-size forward 4.3 s -> 2.2 s). See README.
export MALLOC_MMAP_MAX_ ?= 0
export MALLOC_TRIM_THRESHOLD_ ?= 100000000000
export WANDB_MODE ?= offline

.DEFAULT_GOAL := help
.PHONY: help venv notes test lint train generate app data bench clean

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q --no-warn-conflicts -e '.[dev,app]'  # see notes: basic-pitch
	@touch $(STAMP)

venv: $(STAMP) ## create .venv and install pianodiff with its dev tools and the web page

# basic-pitch goes in last, with --no-deps: pip reports dependency conflicts only for
# installs that resolve dependencies, so no install prints a false ERROR. `pip check` then
# fails on any conflict except basic-pitch's TensorFlow requirement, skipped on purpose.
$(NOTES_STAMP): $(STAMP) pyproject.toml
	$(PY) -m pip install -q --no-warn-conflicts -e '.[notes]'
	$(PY) -m pip install -q --no-deps '$(BASIC_PITCH)'
	@! $(PY) -m pip check | grep -v -e '^basic-pitch ' -e '^No broken requirements'
	@touch $(NOTES_STAMP)

notes: $(NOTES_STAMP) ## install the note measure (basic-pitch's ONNX transcriber, no TensorFlow)

test: $(NOTES_STAMP) ## run the whole test suite (with the note measure)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP) ## ruff check and format check
	$(VENV)/bin/ruff check src tests scripts studies benchmarks
	$(VENV)/bin/ruff format --check src tests scripts studies benchmarks

train: $(STAMP) ## train DiffWave (ARGS="experiment=piano14 trainer=gpu")
	$(PY) -m pianodiff.train $(ARGS)

generate: $(STAMP) ## 35 s of piano (5 s base + 30 s) from the bundled model, with its history GIF (ARGS="extender=repaint seconds=60")
	$(PY) -m pianodiff.generate history=true $(ARGS)

app: $(STAMP) ## the web page on http://127.0.0.1:7860: continue, listen, compare (ARGS="--port 8000")
	$(PY) -m pianodiff.app $(ARGS)

data: $(STAMP) ## render data/piano14 (SET=melodies: data/melodies; installs fluidsynth if it can)
	@command -v fluidsynth >/dev/null && test -f /usr/share/sounds/sf3/MuseScore_General_Full.sf3 || bash scripts/install_system_deps.sh
	$(PY) -m pianodiff.data.prepare $(SET) $(ARGS)

bench: $(STAMP) ## speed and cost benchmarks, each a ratio against a baseline in the same run
	$(PY) -m benchmarks.run $(ARGS)

clean: ## remove runs, caches and build outputs (keeps .venv and data)
	rm -rf outputs multirun wandb lightning_logs runs .pytest_cache .ruff_cache build dist bench-results
	find . -name __pycache__ -type d -prune -not -path './.venv/*' -exec rm -rf {} +
