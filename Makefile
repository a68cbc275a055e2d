# Jindu developer entry points. `make check` is exactly what CI runs (see .ci/run).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
PG_TEST_URL ?= postgres://postgres@127.0.0.1:5432/jindu_test
# Modules that are type-checked strictly enough to keep clean (ratchet: add, never remove).
MYPY_MODULES := src/jindu/core/crypto.py src/jindu/core/validators.py src/jindu/core/masking.py src/jindu/core/keyring.py src/jindu/core/scoping.py src/jindu/core/audit.py src/jindu/core/policy.py src/jindu/core/fields.py src/jindu/core/orgunits.py src/jindu/core/accounts.py src/jindu/core/keys.py src/jindu/core/jobs.py src/jindu/cli.py src/jindu/core/roles.py src/jindu/core/lookups.py src/jindu/core/checks.py src/jindu/core/storedfiles.py \
	src/jindu/people/evaluation.py src/jindu/people/policies.py src/jindu/people/nightly.py src/jindu/people/selectors.py \
	src/jindu/people/services.py src/jindu/people/casework.py src/jindu/people/kpis.py src/jindu/people/documents.py \
	src/jindu/precursors/quantities.py src/jindu/precursors/balance.py src/jindu/precursors/credit.py \
	src/jindu/precursors/permit_rules.py src/jindu/precursors/ledger.py src/jindu/precursors/balances.py \
	src/jindu/precursors/services.py src/jindu/precursors/selectors.py src/jindu/precursors/epcis/vocab.py \
	src/jindu/precursors/epcis/document.py src/jindu/precursors/rating.py src/jindu/precursors/ledger_upload.py \
	src/jindu/precursors/permits.py src/jindu/precursors/warnings.py src/jindu/precursors/inspections.py \
	src/jindu/core/bulk.py src/jindu/core/gcpause.py src/jindu/wastewater/backcalc.py src/jindu/wastewater/uncertainty.py src/jindu/wastewater/periods.py \
	src/jindu/wastewater/policies.py src/jindu/wastewater/catalogue.py src/jindu/wastewater/results.py \
	src/jindu/wastewater/services.py src/jindu/wastewater/selectors.py \
	src/jindu/precursors/annual_reports.py src/jindu/precursors/api_annual_reports.py src/jindu/precursors/views_annual_reports.py \
	src/jindu/wastewater/aggregates.py src/jindu/wastewater/local_index.py src/jindu/wastewater/rankings.py src/jindu/wastewater/exports.py src/jindu/wastewater/reports.py src/jindu/wastewater/charts.py src/jindu/wastewater/overview.py src/jindu/wastewater/index_settings.py src/jindu/wastewater/api_outputs.py \
	src/jindu/wastewater/anomaly_settings.py src/jindu/wastewater/anomalies.py src/jindu/wastewater/api_anomalies.py src/jindu/wastewater/views_anomalies.py src/jindu/wastewater/urls_anomalies.py src/jindu/wastewater/tasks.py \
	src/jindu/wastewater/lab_import.py src/jindu/wastewater/euda.py src/jindu/wastewater/api_imports.py src/jindu/wastewater/cli.py src/jindu/wastewater/demo.py \
	src/jindu/wastewater/api.py src/jindu/wastewater/schemas.py src/jindu/wastewater/permissions.py src/jindu/wastewater/urls.py src/jindu/wastewater/urls_imports.py src/jindu/wastewater/urls_outputs.py \
	src/jindu/wastewater/views_imports.py src/jindu/wastewater/views_outputs.py src/jindu/wastewater/views_outputs_areas.py src/jindu/wastewater/views_samples.py

.PHONY: setup demo serve test test-sqlite test-postgres check lint bench messages clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/activate requirements.lock pyproject.toml
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

src/jindu/static/vendor/.built: node_modules/.installed scripts/vendor_static.py
	$(PY) scripts/vendor_static.py
	touch $@

setup: $(VENV)/.installed src/jindu/static/vendor/.built

demo: setup
	$(BIN)/jindu demo $(if $(JINDU_PORT),--port $(JINDU_PORT),)

serve: setup
	$(BIN)/jindu serve

test: setup
	bash scripts/ensure_browser.sh
	bash scripts/run_tests.sh

test-sqlite: setup
	bash scripts/run_tests.sh sqlite

test-postgres: setup
	bash scripts/run_tests.sh postgres

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy $(MYPY_MODULES)

check: lint
	JINDU_VAR_DIR=$$(mktemp -d) $(BIN)/jindu check --fail-level WARNING
	JINDU_VAR_DIR=$$(mktemp -d) $(BIN)/jindu makemigrations --check --dry-run
	$(MAKE) test

# The people benchmark keeps its database (jindu_bench_people) between runs: --reuse skips the load (about
# 25 minutes for 1M persons) when the data set already has the requested size. Override, e.g.:
# make bench BENCH_PEOPLE_ARGS="--persons 50000 --reuse"
BENCH_PEOPLE_ARGS ?= --reuse
# The wastewater benchmark keeps jindu_bench_wastewater too (the demo's 18 sites x 3 years load in about a minute).
BENCH_WASTEWATER_ARGS ?= --reuse
bench: setup
	$(PY) bench/bench_orgtree.py
	$(PY) bench/bench_people.py $(BENCH_PEOPLE_ARGS)
	$(PY) bench/bench_precursors.py $(BENCH_PRECURSORS_ARGS)
	$(PY) bench/bench_wastewater.py $(BENCH_WASTEWATER_ARGS)

messages: setup
	cd src/jindu && JINDU_VAR_DIR=$$(mktemp -d) ../../$(BIN)/jindu makemessages -l zh_Hans --no-obsolete --ignore 'static/*' --ignore 'core/testing/*' && JINDU_VAR_DIR=$$(mktemp -d) ../../$(BIN)/jindu compilemessages

clean:
	rm -rf $(VENV) node_modules src/jindu/static/vendor
