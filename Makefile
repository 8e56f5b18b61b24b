# `make run` starts everything; `make test` runs every test. Both start a private
# PostgreSQL and Redis unless DATABASE_URL / REDIS_URL are set: `make run`'s keep their data in
# $(DEV_DIR)/ between runs (`make reset` deletes it), `make test`'s are new and thrown away each time.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
WITH_SERVICES := $(BIN)/python scripts/devservices.py --
PORT ?= 8000
DEV_DIR := .dev
# One line saying where emails go (outside production: whole .eml files in $(DEV_DIR)/inbox).
MAIL_WHERE := from scheduler.config import Settings; from scheduler.mail.providers import describe; print(describe(Settings.from_env()))

.PHONY: run reset test test-pgbouncer test-load scale-out fuzz screenshots bench migrate schema messages clean

# PUBLIC_BASE_URL defaults to the web's address for both processes (honcho gives the worker
# another PORT, from which it would derive another, and emails would link there).
# Ctrl-C ends it with status 0: devservices gives the terminal to the servers alone, and
# `exec` leaves no shell between make and devservices for a Ctrl-C without a terminal to kill.
run: $(VENV)/.installed
	exec env PATH="$(CURDIR)/$(BIN):$$PATH" PORT=$(PORT) PUBLIC_BASE_URL="$${PUBLIC_BASE_URL:-http://127.0.0.1:$(PORT)}" $(BIN)/python scripts/devservices.py --keep $(DEV_DIR) --ctrl-c-ok -- sh -c \
	  'python migrate.py && python -c "$(MAIL_WHERE)" && echo "Scheduler: http://127.0.0.1:$(PORT)  (Ctrl-C stops everything)" && exec honcho start -p $(PORT) web worker'

# Deletes what `make run` keeps in $(DEV_DIR)/ (database, Redis data, inbox) so the next run starts
# empty; refused while a `make run` is using it.
reset:
	$(PYTHON) scripts/devservices.py --reset $(DEV_DIR)

# Programs the tests drive, from Debian's packages (installed when missing and run as root).
TEST_TOOLS := chromium:chromium,chromedriver:chromium-driver,nginx:nginx-light,pgbouncer:pgbouncer,systemd-analyze:systemd,openssl:openssl
# axe-core, the accessibility checker tests/test_accessibility.py runs inside the pages: npm's
# tarball of this version, refused unless it matches the registry's dist.integrity, and only
# axe.min.js kept, in the venv (git holds no minified copy; the tests download nothing).
AXE_VERSION := 4.14.1
AXE_INTEGRITY := sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ==
AXE_JS := $(VENV)/share/axe-core-$(AXE_VERSION)/axe.min.js

test: $(VENV)/.installed $(AXE_JS)
	AXE_JS="$(CURDIR)/$(AXE_JS)" PATH="$(CURDIR)/$(BIN):$$PATH:/usr/sbin:/sbin" $(BIN)/python scripts/devservices.py --tools $(TEST_TOOLS) -- python -m pytest $(PYTEST_ARGS)

# The `pgbouncer` marked tests (every route, the worker) again, with every connection going
# through a PgBouncer in transaction mode that the tests start; .ci/run runs it.
test-pgbouncer: $(VENV)/.installed
	TEST_THROUGH_PGBOUNCER=1 $(MAKE) test PYTEST_ARGS="-m pgbouncer $(PYTEST_ARGS)"

# 2 web and 2 worker hosts in network namespaces against one PostgreSQL, Redis and SMTP sink,
# under a bounded booking load, killing one of each mid-run (docs/scaling.md). As root.
scale-out: $(VENV)/.installed
	PATH="$(CURDIR)/$(BIN):$$PATH:/usr/sbin:/sbin" $(BIN)/python -m scripts.scale_out $(SCALE_OUT_ARGS)

# The load tests (slow and idle clients against nginx + gunicorn): a few thousand connections
# and timed requests, so not part of `make test`; .ci/run runs both.
test-load: $(VENV)/.installed
	PATH="$(CURDIR)/$(BIN):$$PATH:/usr/sbin:/sbin" $(BIN)/python scripts/devservices.py --tools $(TEST_TOOLS) -- python -m pytest -m load $(PYTEST_ARGS)

# The README's pictures of the booking and manage pages, taken by their browser test.
screenshots: $(VENV)/.installed
	SCREENSHOTS="$(CURDIR)/docs/screenshots" $(MAKE) -o $(VENV)/.installed test PYTEST_ARGS="tests/test_pages.py tests/test_languages.py -k 'books_a_slot or books_a_team or books_a_series or requests_a_time or seats_left or time_zone_picker or the_local_way' -q"

# A longer fuzz run from the OpenAPI description than `make test`'s, with a random seed
# (printed, so a failure can be replayed with FUZZ_SEED=...): make fuzz FUZZ_MAX_SECONDS=1800
FUZZ_MAX_SECONDS ?= 600
fuzz: $(VENV)/.installed
	FUZZ_MAX_SECONDS=$(FUZZ_MAX_SECONDS) FUZZ_MAX_EXAMPLES=100 FUZZ_SEED=$(FUZZ_SEED) FUZZ_PHASES=coverage,fuzzing,stateful \
	  $(MAKE) test PYTEST_ARGS="tests/test_fuzz.py"

# A/B against another implementation: make bench BENCH_ARGS="--original-url http://127.0.0.1:3000"
# (the shared harness drives wrk, installed from Debian's packages when missing). The other
# scripts in bench/ run the same way: make bench BENCH=series_write BENCH_ARGS="--requests 100"
BENCH ?= compare
bench: $(VENV)/.installed
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python scripts/devservices.py --tools wrk:wrk -- python bench/$(BENCH).py $(BENCH_ARGS)

migrate: $(VENV)/.installed
	$(BIN)/python migrate.py

# Refreshes the catalogues (docs/architecture.md, "Languages and translations") from the code:
# messages.pot, and a .po for each language of scheduler/languages.py's LANGUAGES but English (new
# ones created), translations kept, new messages empty and gone ones dropped; then translate the
# empty ones (tests/test_languages.py fails until every message has every language).
TRANSLATIONS := scheduler/translations
messages: $(VENV)/.installed
	$(BIN)/pybabel extract -F $(TRANSLATIONS)/babel.cfg -k N_ --no-location --sort-output --omit-header \
	  -o $(TRANSLATIONS)/messages.pot .
	for language in $$($(BIN)/python -c 'from scheduler.languages import LANGUAGES, DEFAULT; print(*(l for l in LANGUAGES if l != DEFAULT))'); do $(BIN)/pybabel update -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) \
	  -l $$language --init-missing --no-fuzzy-matching --ignore-obsolete || exit 1; done

# Rewrites sql/schema.sql, the current schema in one file, from a freshly migrated database
# (tests/test_migrate.py fails until it matches the migrations).
schema: $(VENV)/.installed
	PATH="$(CURDIR)/$(BIN):$$PATH" $(WITH_SERVICES) python migrate.py --schema

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV) || { apt-get update -qq && apt-get install -y -qq python3-venv && $(PYTHON) -m venv $(VENV); }
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

$(AXE_JS): | $(VENV)/.installed
	$(BIN)/python scripts/fetch_npm_file.py https://registry.npmjs.org/axe-core/-/axe-core-$(AXE_VERSION).tgz $(AXE_INTEGRITY) package/axe.min.js $@

clean:
	rm -rf $(VENV) .pytest_cache
