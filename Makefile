# ttsign: two commands do everything on a fresh machine.
#   make run   - create the virtual environment, install what the server needs, start the sign server
#   make test  - install everything the tests need (versions from requirements-test.lock), then lint,
#                type-check, check the dependency floors and run the whole suite

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
RUN_STAMP  := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test
LOCK := requirements-test.lock
NATIVE := $(wildcard src/ttsign/signing/_native/*.c)
# Extra `ttsign serve` options, e.g. make run ARGS="--port 9000". Without them the settings decide
# (TTSIGN_HOST, TTSIGN_PORT, the TOML file named by TTSIGN_CONFIG_FILE, then 127.0.0.1:8080).
ARGS ?=

.PHONY: run test install lock floors systemd-analyze lint typecheck e2e-deps redis nginx chromium promtool tools bench-tools bench demo proto clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -U pip

# The server alone: ttsign and its runtime dependencies, no test or e2e extras.
$(RUN_STAMP): $(BIN)/python pyproject.toml setup.py $(NATIVE)
	$(BIN)/pip install -q -e .
	touch $@

# Everything the suite needs, at the versions it was last locked at (a constraints file: packages the lock
# does not name yet install unpinned; `make lock` records them).
$(TEST_STAMP): $(BIN)/python pyproject.toml setup.py $(LOCK) $(NATIVE)
	$(BIN)/pip install -q -c $(LOCK) -e '.[dev,e2e]'
	touch $@

install: $(TEST_STAMP)

run: $(RUN_STAMP)
	$(BIN)/ttsign serve $(ARGS)

# Re-resolve the test dependencies in a fresh venv and record the exact versions in requirements-test.lock.
lock:
	rm -rf .venv-lock
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install -q -U pip
	.venv-lock/bin/pip install -q -e '.[dev,e2e]'
	{ echo "# Exact versions the test suite runs on: a constraints file for pip install -c (Makefile, test stamp)."; \
	  echo "# Regenerate with make lock after changing dependencies in pyproject.toml (fresh venv, pip freeze)."; \
	  .venv-lock/bin/pip freeze --exclude-editable; } > $(LOCK)
	rm -rf .venv-lock

# The lower bounds pyproject.toml declares for uvicorn and curl_cffi, tested: .venv-floors at exactly those
# versions runs the tests that use them (scripts/check_floors.py).
floors: $(TEST_STAMP)
	$(BIN)/python scripts/check_floors.py

redis:
	@bash scripts/ensure-redis.sh

# The replica test (tests/e2e/test_replicas.py) runs its own nginx in front of two servers: install the binary.
nginx:
	@bash scripts/ensure-deb.sh nginx

# tests/deploy/test_systemd_units.py checks deploy/*.service with systemd-analyze (Debian's systemd package).
systemd-analyze:
	@bash scripts/ensure-deb.sh systemd-analyze systemd

# The /docs test (tests/api/test_docs_offline.py) drives Debian's headless Chromium through Playwright.
chromium:
	@bash scripts/ensure-deb.sh chromium

lint: $(TEST_STAMP)
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts

typecheck: $(TEST_STAMP)
	$(BIN)/mypy --strict src/ttsign

# After the installs: fail naming any tool the suite needs that could not be installed (no silent skips).
tools: e2e-deps redis nginx chromium promtool
	@bash scripts/check-tools.sh

# promtool (Debian's prometheus package) checks the alert rules and dashboard queries in deploy/monitoring/.
promtool:
	@bash scripts/ensure-deb.sh promtool prometheus

# pytest exits 5 when it collected nothing: make treats any non-zero status as failure, so an empty run fails.
test: $(TEST_STAMP) e2e-deps redis nginx chromium systemd-analyze tools lint typecheck floors
	$(BIN)/pytest -q -p no:cacheprovider

# The HTTP benchmarks load the server with wrk (Debian's package), from a process of its own.
bench-tools:
	@bash scripts/ensure-deb.sh wrk
	@bash scripts/ensure-deb.sh valgrind

# e2e-deps: vendor_script.py runs TikTok's webmssdk from the npm package the tests install.
bench: $(TEST_STAMP) bench-tools redis nginx e2e-deps
	$(BIN)/python benchmarks/signing.py
	cd benchmarks && ../$(BIN)/python vendor_script.py
	cd benchmarks && ../$(BIN)/python connect.py
	cd benchmarks && ../$(BIN)/python connect.py --rate 500 --requests 3000
	cd benchmarks && ../$(BIN)/python connect_direct.py
	cd benchmarks && ../$(BIN)/python connect_instructions.py
	cd benchmarks && ../$(BIN)/python sign_url.py
	cd benchmarks && ../$(BIN)/python load.py
	cd benchmarks && ../$(BIN)/python http_edge.py
	cd benchmarks && ../$(BIN)/python access_log.py
	cd benchmarks && ../$(BIN)/python usage_accounting.py
	cd benchmarks && ../$(BIN)/python admin.py
	cd benchmarks && ../$(BIN)/python relay_fanout.py
	cd benchmarks && ../$(BIN)/python relay_rooms.py

demo: $(TEST_STAMP)
	$(BIN)/python scripts/demo.py

proto: $(TEST_STAMP)
	$(BIN)/python -m grpc_tools.protoc -Isrc --plugin=protoc-gen-mypy=$(BIN)/protoc-gen-mypy --python_out=src --mypy_out=src \
		src/ttsign/proto/webcast.proto

clean:
	rm -rf $(VENV) .venv-e2e .venv-floors .venv-lock .pytest_cache .mypy_cache .ruff_cache tests/e2e/node*/node_modules

# Older real clients for tests/e2e/test_client_versions.py: per-version venvs in .venv-e2e/, npm ci in tests/e2e/node*/.
e2e-deps:
	bash scripts/e2e-deps.sh
