# One command per job; see README.md.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The GPU build of TensorFlow where nvidia-smi runs and lists a GPU, the smaller CPU build elsewhere
# (running it, not `command -v`: bash's finds a file that is not executable).
TF_EXTRA ?= $(shell nvidia-smi -L 2>/dev/null | grep -q '^GPU' && echo gpu || echo cpu)

.PHONY: setup sandbox-tools demo demo-all test test-all build validate doctor clean

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

# The quick demo grades assignment 1's samples (a few minutes on 2 cores); demo-all grades all seven.
demo:
	$(BIN)/autograder demo 01

demo-all:
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
