# Two commands for a newcomer: `make run` and `make test`. Everything else is installed by them.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1:8000

.PHONY: run test lint typecheck format system-packages worker benchmarks clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

# System packages (Chromium for the browser tests, CJK fonts for PDFs): Debian, as root.
system-packages:
	bash .ci/system-packages.sh

run: $(VENV)/.installed
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo --if-empty
	@echo "Serving on http://$(HOST)/  (SQLite, Celery tasks run eagerly)"
	$(PY) manage.py runserver $(HOST)

# One pytest-xdist process a core (each with its own test database and Celery queue); work
# stealing, as a schemathesis operation takes from a tenth of a second to half a minute.
PYTEST_ARGS ?= -n auto --dist worksteal

test: $(VENV)/.installed system-packages
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# mypy with the Django plugins over the whole project, strict on the pure cores; see pyproject.
typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy

format: $(VENV)/.installed
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Production-like: a real worker on the Redis broker (set DATABASE_URL and CELERY_BROKER_URL).
worker: $(VENV)/.installed
	$(VENV)/bin/celery -A dataflow worker --loglevel=info

benchmarks: $(VENV)/.installed
	$(PY) -m benchmarks.ranking
	$(PY) -m benchmarks.long_term_scheduling
	$(PY) -m benchmarks.review_assignment
	$(PY) -m benchmarks.phase2
	$(PY) -m benchmarks.night
	$(PY) -m benchmarks.archive

clean:
	rm -rf $(VENV) db.sqlite3 var staticfiles
