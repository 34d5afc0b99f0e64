# ttsign: two commands do everything on a fresh machine.
#   make run   - create the virtual environment, install, start the sign server
#   make test  - install everything the tests need, then lint, type-check and run the whole suite

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NODE_E2E := tests/e2e/node
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: run test install lint typecheck unit e2e node-deps redis bench demo proto clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -U pip
	$(BIN)/pip install -q -e '.[dev,e2e]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/ttsign serve --host $(HOST) --port $(PORT)

node-deps:
	@if [ -f $(NODE_E2E)/package.json ]; then cd $(NODE_E2E) && npm ci --no-audit --no-fund --loglevel=error; fi

redis:
	@bash scripts/ensure-redis.sh

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts

typecheck: $(STAMP)
	$(BIN)/mypy --strict src/ttsign

# pytest exits 5 when it collected nothing: make treats any non-zero status as failure, so an empty run fails.
test: $(STAMP) node-deps redis lint typecheck
	$(BIN)/pytest -q -p no:cacheprovider

bench: $(STAMP)
	$(BIN)/python benchmarks/signing.py

demo: $(STAMP) node-deps
	$(BIN)/python scripts/demo.py

proto: $(STAMP)
	$(BIN)/python -m grpc_tools.protoc -Isrc --plugin=protoc-gen-mypy=$(BIN)/protoc-gen-mypy --python_out=src --mypy_out=src \
		src/ttsign/proto/webcast.proto

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache $(NODE_E2E)/node_modules

# Older real clients for tests/e2e/test_client_versions.py: per-version venvs in .venv-e2e/, npm ci in tests/e2e/node*/.
e2e-deps:
	bash scripts/e2e-deps.sh
