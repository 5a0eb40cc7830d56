# The whole set-up on a fresh machine is `make demo` and `make test` (python3 and make only).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-postgres lint bench bench-setup serve clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/connector demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

# The database tests again, against the PostgreSQL named by TEST_DATABASE_URL.
test-postgres: $(STAMP)
	$(BIN)/python -m pytest -q -m database

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m mypy --ignore-missing-imports connector adapters webhooks devcrm

# Each prints its figures and, last, ratio=<x> against a baseline measured in the same run.
# The delivery benches need Postfix's smtp-source and smtp-sink (bench-setup installs them).
bench: $(STAMP) bench-setup
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/ingest.py --batch 100
	$(BIN)/python bench/hubspot_ingest.py
	$(BIN)/python bench/hubspot_ingest.py --batch 100
	$(BIN)/python bench/writeback.py
	$(BIN)/python bench/salesforce_ingest.py
	$(BIN)/python bench/salesforce_ingest.py --batch 100
	$(BIN)/python bench/salesforce_writeback.py
	$(BIN)/python bench/scheduler.py
	$(BIN)/python -m bench.segments
	$(BIN)/python bench/segment_update.py
	$(BIN)/python -m bench.pipeline
	$(BIN)/python -m bench.trigger_latency
	$(BIN)/python -m bench.hubspot_latency
	$(BIN)/python -m bench.backlog_memory
	$(BIN)/python -m bench.campaign_send
	$(BIN)/python -m bench.campaign_memory
# Also, on a scratch PostgreSQL database of its own (never `test`):
#   createdb -h 127.0.0.1 -U postgres bench_campaigns
#   $(BIN)/python -m bench.audience_resolution --database-url postgresql://postgres@127.0.0.1/bench_campaigns

# Debian's postfix package for smtp-source/smtp-sink, installed without starting its daemon.
bench-setup: $(STAMP)
	$(BIN)/python -m bench.smtp_tools

serve: $(STAMP)
	$(BIN)/connector serve

clean:
	rm -rf $(VENV) var .pytest_cache
