# One command per job; see README.md.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The GPU build of TensorFlow where an NVIDIA driver is present, the smaller CPU build elsewhere.
TF_EXTRA ?= $(shell command -v nvidia-smi >/dev/null 2>&1 && echo gpu || echo cpu)

.PHONY: setup demo test test-all build validate clean

setup:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ./student -e ".[$(TF_EXTRA),dev]"
	$(BIN)/autograder data fetch $(if $(COURSE_DATA_MIRROR),--mirror $(COURSE_DATA_MIRROR))

demo:
	$(BIN)/autograder demo

test:
	$(BIN)/pytest -m "not slow"

test-all:
	$(BIN)/pytest

build:
	$(BIN)/autograder build

validate:
	$(BIN)/autograder validate

clean:
	rm -rf demo grading .pytest_cache
