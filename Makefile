# Coinstream — the two commands that matter: `make run` (whole system) and `make test` (all tests).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: run up down status addresses test test-fast demo reconcile chaos schemas lint clean rebuild \
	projections-crash projections-bench venv lock upgrade

# Every dependency comes from the hashed lock (requirements/*.lock, written by `make lock`), so
# a clone next month gets the same faust and aiokafka; the project itself is installed editable.
$(BIN)/.installed: pyproject.toml requirements/dev.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --require-hashes -r requirements/dev.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $@

venv: $(BIN)/.installed

## Re-resolve the locks after editing pyproject.toml's dependencies, keeping every other pin;
## `make upgrade` moves every pin to the newest version pyproject.toml allows. dev.lock is
## resolved first and bounds the others, so run.lock (the image) and bench.lock (dev + bench)
## pin the same versions as the venv the tests run in.
LOCK := $(BIN)/uv pip compile pyproject.toml --quiet --generate-hashes --python-version 3.11 \
	--custom-compile-command "make lock"
lock: venv
	$(LOCK) $(UPGRADE) --extra dev -o requirements/dev.lock
	$(LOCK) $(UPGRADE) -c requirements/dev.lock -o requirements/run.lock
	$(LOCK) $(UPGRADE) --extra dev --extra bench -c requirements/dev.lock -o requirements/bench.lock

upgrade: UPGRADE := --upgrade
upgrade: lock

## Start Kafka + PostgreSQL (native unless KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL are set),
## migrate, create topics, print the addresses, then run every Procfile process under
## infra.supervisor: a process that dies is restarted with backoff; Ctrl-C stops them all.
run: venv
	$(BIN)/python -m infra run

## Scaled out on this machine (docs/scaling.md): three Kafka nodes, COINSTREAM_INSTANCES (2) of
## every role, HAProxy on the usual API ports, a PostgreSQL standby for the readers; its data in
## .cache/cluster. Ctrl-C stops all of it.
.PHONY: cluster
cluster: venv
	$(BIN)/python -m infra.cluster run

up: venv
	$(BIN)/python -m infra up

down:
	$(BIN)/python -m infra down

status:
	$(BIN)/python -m infra status

## Where each service, Kafka and PostgreSQL listen (the settings `make run` uses).
addresses: venv
	$(BIN)/python -m infra addresses

## The whole suite against real Kafka and PostgreSQL (started when not running).
test: venv
	$(BIN)/python -m pytest -q

## Unit tests only (tests/unit: no Kafka, no PostgreSQL, no processes), in seconds.
test-fast: venv
	$(BIN)/python -m pytest -q tests/unit

## Check every invariant across the stores, topics and read models (exits non-zero naming each).
reconcile: venv
	$(BIN)/python -m scripts.reconcile

## Fault injection, seed by seed, on a Kafka + PostgreSQL of its own (.cache/chaos, ports 29092
## and 25432) so it can kill them without touching `make run`'s. SEEDS=1,2,3 ARGS="--duration 30"
SEEDS ?= 1,2,3
CHAOS_ENV := COINSTREAM_CACHE=$(CURDIR)/.cache/chaos COINSTREAM_KAFKA_LIB=$(CURDIR)/.cache/kafka/lib \
	COINSTREAM_KAFKA_PORT=29092 COINSTREAM_KAFKA_CONTROLLER_PORT=29093 COINSTREAM_POSTGRES_PORT=25432
chaos: venv
	$(CHAOS_ENV) $(BIN)/python -m scripts.chaos --seeds $(SEEDS) $(ARGS); \
	status=$$?; $(CHAOS_ENV) $(BIN)/python -m infra down; exit $$status

## The cluster fault test, seed by seed, on a cluster of its own (.cache/chaos-cluster, ports
## 28000-28433): leader broker, one instance of every role, two brokers down; then every check.
## SEEDS=1,2 ARGS="--duration 40 --outage 10"
.PHONY: chaos-cluster
chaos-cluster: venv
	$(BIN)/python -m scripts.chaos_cluster --seeds $(SEEDS) $(ARGS)

## Buy coins, send a gift, request a payout, read the balances (needs `make run` in another shell).
demo: venv
	$(BIN)/python -m scripts.demo

schemas: venv
	$(BIN)/python -m schemas.generate

## ruff's checks and format (--check: `ruff format .` rewrites) and mypy over [tool.mypy]'s
## packages; CI runs it before the tests, and .pre-commit-config.yaml runs the same on a commit.
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean:
	$(BIN)/python -m infra forget
	rm -rf .cache $(VENV)

## Load benchmark: gifts/s, end-to-end latency and CPU per gift vs pgbench, the eventsourcing
## library, a naive path and a plain-PostgreSQL ledger, on a private db/topic prefix; the load
## comes from vegeta (built once into .cache/bin) or the Python generator (docs/performance.md).
## It starts the native Kafka and PostgreSQL first when they are not running (infra up).
.PHONY: bench
bench: venv
	$(BIN)/pip install -q --require-hashes -r requirements/bench.lock
	$(BIN)/python -m infra up
	$(BIN)/python -m bench --ramp $(ARGS)

## Rebuild read models from the topics while the worker runs: `make rebuild` (all) or
## `make rebuild MODELS="wallet_balances leaderboards"`.
rebuild: venv
	$(BIN)/python -m services.projections rebuild $(MODELS)

## Projections worker SIGKILLed at random points, 20 seeds (prints a table).
projections-crash: venv
	$(BIN)/python -m scripts.projections_crash --seeds 20 $(ARGS)

## Projections throughput: batched rebuild vs a naive one-event-one-commit projector.
## The same benchmark against make cluster's shape (two gifting-api behind HAProxy, three
## brokers, RF 3), on a cluster of its own (.cache/bench-cluster, ports 26000-26433); results
## in bench/results/cluster/. ARGS="--ramp" as for bench.
.PHONY: bench-cluster
bench-cluster: venv
	$(BIN)/pip install -q --require-hashes -r requirements/bench.lock
	$(BIN)/python -m bench --cluster $(ARGS)

projections-bench: venv
	$(BIN)/python -m scripts.projections_bench $(ARGS)
