# jaxrobot: the two README commands are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_WORKERS ?= 2
export JAXROBOT_CACHE ?= $(CURDIR)/.cache/jaxrobot
# glibc's malloc may ask for transparent huge pages: XLA's per-step buffers then page-fault far less
# (jaxrobot/platform.py). The `jaxrobot` command and the demo go further and restart with mimalloc.
export GLIBC_TUNABLES ?= glibc.malloc.hugetlb=1

.PHONY: install demo test test-all lint format bench build-check bazel-test clean

$(STAMP): pyproject.toml requirements.lock export/runtime/pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (jaxrobot needs Python 3.11)"; exit 1; }
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -c requirements.lock -e '.[export,dev,record]' -e './export/runtime[onnx,tflite]' 2>&1 \
	  | { grep -v "^WARNING: Location" || true; }; \
	  test $${PIPESTATUS[0]} -eq 0 || { echo "error: pip install failed (see above)"; exit 1; }
	$(PY) -c "import jaxrobot, jax, flax, mujoco.mjx, tensorflow_datasets" > /dev/null
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m jaxrobot.cli.demo --out out/demo

test: $(STAMP)
	timeout 45m $(PY) -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile --max-worker-restart=0

test-all: $(STAMP)
	$(PY) -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile -m "" --timeout 3600

lint: $(STAMP)
	$(VENV)/bin/ruff check jaxrobot tests experiments bench data_pipelines export tools
	$(VENV)/bin/lint-imports

format: $(STAMP)
	$(VENV)/bin/ruff format jaxrobot tests experiments bench data_pipelines export tools

bench: $(STAMP)
	$(PY) bench/train_step.py

build-check:
	$(PYTHON) tools/build_check.py

bazel-test: $(STAMP)
	@command -v bazel >/dev/null 2>&1 || (apt-get update && apt-get install -y bazel-bootstrap)
	mkdir -p $(HOME)/.cache/jaxrobot
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH bazel test //... \
	  --test_env=JAXROBOT_CACHE=$(HOME)/.cache/jaxrobot --sandbox_writable_path=$(HOME)/.cache/jaxrobot

clean:
	rm -rf out .pytest_cache .ruff_cache

# Side by side with LeRobot (issue 5): a separate venv with LeRobot 0.4.4 on CPU torch 2.13.0 (never a
# CUDA build: torch is pinned exactly in every install line, and a CPU wheel of it lies in the local wheel
# folder). lerobot and torchvision go in with --no-deps (their declared deps pull CUDA torch and more);
# LeRobot's light runtime deps are listed by hand (pyserial: `import lerobot.policies` reaches
# lerobot.motors). pip's "dependency conflicts" report about lerobot's declared pins is expected.
PEERS_VENV := .venv-peers
PEERS_PY := $(PEERS_VENV)/bin/python
PEERS_STAMP := $(PEERS_VENV)/.installed
PEERS_DEPS := 'numpy<2.3' pillow einops 'diffusers<0.36' draccus==0.10.0 'huggingface-hub<0.36' safetensors \
  gymnasium termcolor datasets pandas imageio accelerate deepdiff av 'pyserial>=3.5,<4'
PEERS_PIP = $(PEERS_PY) -m pip install -q $(1) 2>&1 | { grep -v "^WARNING: Location" || true; }; \
  test $${PIPESTATUS[0]} -eq 0 || { echo "error: pip install failed (see above)"; exit 1; }

.PHONY: bench-peers test-peers

$(PEERS_STAMP):
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found"; exit 1; }
	test -d $(PEERS_VENV) || $(PYTHON) -m venv $(PEERS_VENV)
	$(call PEERS_PIP,torch==2.13.0)
	$(call PEERS_PIP,--no-deps lerobot==0.4.4 torchvision==0.28.0)
	$(call PEERS_PIP,torch==2.13.0 $(PEERS_DEPS))
	PYTHONWARNINGS=ignore $(PEERS_PY) bench/peers_lerobot.py --check
	touch $(PEERS_STAMP)

bench-peers: $(STAMP) $(PEERS_STAMP)
	$(PY) bench/peers.py

# LeRobot checkpoints imported by `jaxrobot ckpt import-lerobot`, and datasets written by `data convert
# rlds-to-lerobot`, against LeRobot 0.4.4 itself (slow tests that need
# the peers venv; `make test` checks the import on small checkpoints LeRobot wrote, in tests/testdata).
test-peers: $(STAMP) $(PEERS_STAMP)
	$(PY) -m pytest -q -m slow tests/interop tests/data/lerobot --timeout 3600
