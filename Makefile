# The two commands of the README: `make run` and `make test`. Both set everything up first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test check lint messages browser-deps deploy-deps pgbouncer-deps mail-deps axe-deps screenshots bench-delivery bench-signup bench-ingest bench-import bench-redirect bench-console clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## run: start mailer with embedded PostgreSQL and the development outbox on http://127.0.0.1:8080
run: $(STAMP)
	$(BIN)/mailer serve

## lint: ruff (lint + format), mypy, and the import contract (.importlinter: arrows point down)
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

## messages: extract the readers' texts (babel.cfg), merge them into every catalog, compile the .mo files
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k N_ --no-location --omit-header -o mailer/locale/messages.pot .
	$(BIN)/pybabel update -i mailer/locale/messages.pot -d mailer/locale --width 100
	$(BIN)/pybabel compile -d mailer/locale

## browser-deps: Debian's chromium for tests/browser (Playwright drives it; never downloads a browser)
browser-deps:
	test -x /usr/bin/chromium || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium)

## deploy-deps: promtool (checks /metrics), systemd-analyze, nginx, caddy and openssl (check deploy/) for the tests
deploy-deps:
	@missing=""; for pair in promtool:prometheus systemd-analyze:systemd nginx:nginx-light caddy:caddy openssl:openssl; do \
	  command -v $${pair%%:*} >/dev/null || missing="$$missing $${pair#*:}"; done; \
	test -z "$$missing" || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing)

## pgbouncer-deps: Debian's PgBouncer for tests/integration/test_pooler.py (transaction pooling)
pgbouncer-deps:
	test -x /usr/sbin/pgbouncer || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends pgbouncer)

## mail-deps: Debian's SpamAssassin and Perl's Mail::DKIM for tests/unit/test_deliverability.py
mail-deps:
	test -x /usr/bin/spamassassin && perl -MMail::DKIM -MNet::DNS -e 1 2>/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends spamassassin libmail-dkim-perl libnet-dns-perl)

## axe-deps: axe-core from the npm registry for tests/browser/test_accessibility.py (git ignores tests/browser/node/)
axe-deps:
	command -v npm >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends npm)
	test -f tests/browser/node/node_modules/axe-core/axe.min.js || npm install --prefix tests/browser/node --no-audit --no-fund axe-core@4

## test: every check and the whole test suite, against a real PostgreSQL and SMTP
test: lint browser-deps axe-deps deploy-deps pgbouncer-deps mail-deps
	$(BIN)/pytest -n auto --maxprocesses 4 --dist loadfile

## screenshots: walk the README's first-run path in Chromium and copy its pictures over docs/screenshots/
screenshots: $(STAMP) browser-deps
	MAILER_UPDATE_SCREENSHOTS=1 $(BIN)/pytest tests/browser/test_first_run.py

## bench-delivery: the delivery-engine benchmark (installs Postfix's smtp-sink if missing; BENCH_ARGS=--million)
bench-delivery: $(STAMP)
	bench/delivery $(BENCH_ARGS)

## bench-signup: signed webhook signups/s and p50/p99 beside bare aiohttp + asyncpg (installs wrk if missing)
bench-signup: $(STAMP)
	bench/signup $(BENCH_ARGS)

## bench-redirect: click redirects (/r/{token}) at 1,000 req/s and at full speed beside a bare aiohttp redirect (installs wrk if missing)
bench-redirect: $(STAMP)
	bench/redirect $(BENCH_ARGS)

## bench-ingest: items/s ingesting a 10,000-item feed from loopback, then an all-duplicate second poll (BENCH_ARGS=--format atom)
bench-ingest: $(STAMP)
	bench/ingest $(BENCH_ARGS)

## bench-console: every console page and API list at 1,000,000 subscribers and 10,000,000 deliveries (BENCH_ARGS=--keep reuses the seeded database)
bench-console: $(STAMP)
	bench/console $(BENCH_ARGS)

## bench-import: subscribers imported/s and peak RSS for 1,000,000 generated rows beside a bare COPY (BENCH_ARGS="--rows 100000")
bench-import: $(STAMP)
	bench/import $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
