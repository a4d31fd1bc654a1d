# One command per job; see README.md.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The GPU build of TensorFlow where an NVIDIA driver is present, the smaller CPU build elsewhere.
TF_EXTRA ?= $(shell command -v nvidia-smi >/dev/null 2>&1 && echo gpu || echo cpu)

.PHONY: setup sandbox-tools demo test test-all build validate doctor clean

setup: sandbox-tools
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ./student -e ".[$(TF_EXTRA),dev]"
	$(BIN)/autograder data fetch $(if $(COURSE_DATA_MIRROR),--mirror $(COURSE_DATA_MIRROR))
	-$(BIN)/autograder doctor

# Grading sandboxes notebooks with bubblewrap: installed here as root with apt, else the command is printed.
sandbox-tools:
	@command -v bwrap >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && apt-get install -y -qq bubblewrap; \
	  else \
	    echo "Grading needs bubblewrap. Install it with: sudo apt-get install bubblewrap (Fedora: sudo dnf install bubblewrap)"; \
	  fi; }

demo:
	$(BIN)/autograder demo

test:
	$(BIN)/pytest -m "not slow"

# Two processes, each taking a whole module or test class (their fixtures run a notebook once).
test-all:
	$(BIN)/pytest -n 2 --dist loadscope

build:
	$(BIN)/autograder build

validate:
	$(BIN)/autograder validate

doctor:
	$(BIN)/autograder doctor

clean:
	rm -rf demo grading .pytest_cache
