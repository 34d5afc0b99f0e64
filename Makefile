# ttsign: two commands do everything on a fresh machine.
#   make run   - create the virtual environment, install, start the sign server
#   make test  - install everything the tests need, then lint, type-check and run the whole suite

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: run test install lint typecheck e2e-deps redis nginx chromium promtool tools bench-tools bench demo proto clean

$(STAMP): pyproject.toml setup.py $(wildcard src/ttsign/signing/_native/*.c)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -U pip
	$(BIN)/pip install -q -e '.[dev,e2e]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/ttsign serve --host $(HOST) --port $(PORT)

redis:
	@bash scripts/ensure-redis.sh

# The replica test (tests/e2e/test_replicas.py) runs its own nginx in front of two servers: install the binary.
nginx:
	@bash scripts/ensure-deb.sh nginx

# The /docs test (tests/api/test_docs_offline.py) drives Debian's headless Chromium through Playwright.
chromium:
	@bash scripts/ensure-deb.sh chromium

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts

typecheck: $(STAMP)
	$(BIN)/mypy --strict src/ttsign

# After the installs: fail naming any tool the suite needs that could not be installed (no silent skips).
tools: e2e-deps redis nginx chromium promtool
	@bash scripts/check-tools.sh

# promtool (Debian's prometheus package) checks the alert rules and dashboard queries in deploy/monitoring/.
promtool:
	@bash scripts/ensure-deb.sh promtool prometheus

# pytest exits 5 when it collected nothing: make treats any non-zero status as failure, so an empty run fails.
test: $(STAMP) e2e-deps redis nginx chromium tools lint typecheck
	$(BIN)/pytest -q -p no:cacheprovider

# The HTTP benchmarks load the server with wrk (Debian's package), from a process of its own.
bench-tools:
	@bash scripts/ensure-deb.sh wrk

bench: $(STAMP) bench-tools redis nginx
	$(BIN)/python benchmarks/signing.py
	cd benchmarks && ../$(BIN)/python connect.py
	cd benchmarks && ../$(BIN)/python connect.py --rate 500 --requests 3000
	cd benchmarks && ../$(BIN)/python sign_url.py
	cd benchmarks && ../$(BIN)/python load.py

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

proto: $(STAMP)
	$(BIN)/python -m grpc_tools.protoc -Isrc --plugin=protoc-gen-mypy=$(BIN)/protoc-gen-mypy --python_out=src --mypy_out=src \
		src/ttsign/proto/webcast.proto

clean:
	rm -rf $(VENV) .venv-e2e .pytest_cache .mypy_cache .ruff_cache tests/e2e/node*/node_modules

# Older real clients for tests/e2e/test_client_versions.py: per-version venvs in .venv-e2e/, npm ci in tests/e2e/node*/.
e2e-deps:
	bash scripts/e2e-deps.sh
