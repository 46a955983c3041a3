# Two commands on a fresh machine (python3 + make): `make demo` and `make test`.
# Each (re)creates .venv when it is missing or older than pyproject.toml / constraints.txt.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false

.PHONY: all demo test bench lint lock clean

all: test

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip>=24"
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/ethics-review demo --home demo-data

test: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/ethics-review bench core
	$(BIN)/ethics-review bench followups --products 100000
	$(BIN)/ethics-review bench audit --items 1000000
	$(BIN)/ethics-review bench cluster
	$(BIN)/ethics-review bench tui --reviews 100000
	$(BIN)/ethics-review bench api
	$(BIN)/ethics-review bench integrity
	$(BIN)/ethics-review bench cli

lint: $(STAMP)
	$(BIN)/ruff check review flows policies tui tests
	$(BIN)/lint-imports

# Refresh the constraints after changing dependencies in pyproject.toml.
lock: $(STAMP)
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^-e ' > constraints.txt

clean:
	rm -rf $(VENV) demo-data .pytest_cache
