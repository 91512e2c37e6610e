# Two commands: `make demo` and `make test`. Both set up .venv from the project's own files first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test setup clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,gibbs,ldavis]'
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/topics run experiments/quickstart.toml

test: setup
	$(BIN)/python -m pytest -n 2 -q

clean:
	rm -rf $(VENV) .pytest_cache
