# Two commands: `make run` (the whole system on embedded defaults) and `make test`.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
PORT   ?= 8000
PYTEST_ARGS ?=
export DJANGO_SETTINGS_MODULE ?= config.settings.base

.PHONY: run test install install-dev migrate demo lint format messages clean screens topology-programs topology-up topology-down topology-status faults

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed: $(VENV)/bin/python requirements.txt
	$(PIP) install --quiet -r requirements.txt
	@case "$$DATABASE_URL" in mysql*) $(PIP) install --quiet -r requirements-mysql.txt ;; esac
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PIP) install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

migrate: install
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py seed_demo

## make run: migrate, load demo data, start web + websockets + worker + beat on http://127.0.0.1:$(PORT)
run: demo
	PORT=$(PORT) $(PY) manage.py runall

## make test: install test dependencies and run pytest (DATABASE_URL/REDIS_URL point it at MariaDB/Redis)
test: install-dev
	@case "$$DATABASE_URL" in mysql*) $(PIP) install --quiet -r requirements-mysql.txt ;; esac
	DJANGO_SETTINGS_MODULE=config.settings.test $(VENV)/bin/pytest $(PYTEST_ARGS)

## make topology-up: the production topology on this machine (nginx, daphne x2, Redis shards, MariaDB
## primary + replica, Celery worker per queue + beat) at http://127.0.0.1:18400 (bench/topology/cluster.py)
TOPOLOGY_ARGS ?=
# Debian's programs the topology runs (and mysqlclient's build needs), installed when missing.
TOPOLOGY_APT := nginx mariadb-server redis-server libmariadb-dev pkg-config
topology-programs:
	@missing=$$(for p in $(TOPOLOGY_APT); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "topology: install these Debian packages first: $$missing" >&2; exit 1; fi; \
	  echo "topology: installing" $$missing; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

topology-up: install topology-programs
	$(PIP) install --quiet -r requirements-mysql.txt
	$(PY) -m bench.topology up $(TOPOLOGY_ARGS)

topology-down:
	$(PY) -m bench.topology down

topology-status:
	$(PY) -m bench.topology status

## make faults: the fault table under load against the topology (bench/faults.py; results in bench/README.md)
FAULT_ARGS ?=
faults: install-dev topology-programs
	$(PIP) install --quiet -r requirements-mysql.txt
	$(PY) bench/faults.py $(FAULT_ARGS)

## make lint: ruff (lint + format check, docs' code blocks included) and mypy (settings in pyproject.toml)
## make screens: photograph the main screens on the demo data into docs/screens/ (Chromium, test database)
screens: install-dev
	KEFU_SCREENS_DIR=$(CURDIR)/docs/screens DJANGO_SETTINGS_MODULE=config.settings.test \
	  $(VENV)/bin/pytest tests/core/test_screens_browser.py -q $(PYTEST_ARGS)

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: install-dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

messages: install
	$(PY) manage.py makemessages -l zh_Hans -l en --ignore=.venv --ignore=var
	$(PY) manage.py makemessages -d djangojs -l zh_Hans -l en --ignore=.venv --ignore=var --ignore=static/vendor
	$(PY) manage.py compilemessages --ignore=.venv

clean:
	rm -rf var/kefu.sqlite3* var/media var/staticfiles
