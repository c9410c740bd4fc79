# The README's quick start: `make run` (install, then the main job on the embedded
# defaults) and `make test` (install, then the whole test suite). `make lint` runs the gates
# (ruff format, ruff check, pyright). CI runs `make lint`, then `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# `make dev PORT=3001` when 3000 is taken.
PORT ?= 3000

.PHONY: install run test lint dev bench docs lock clean

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python --compile-bytecode -c requirements.lock -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/platform-assets run

test: $(STAMP)
	$(BIN)/python -m pytest

# Over the folders pyproject's [tool.pyright] includes: platform_assets, its tests, benchmarks.
lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/pyright

dev: $(STAMP)
	$(BIN)/platform-assets dev --port $(PORT)

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

bench: $(STAMP)
	for script in benchmarks/bench_*.py; do $(BIN)/python $$script || exit 1; done

lock:
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock

clean:
	rm -rf $(VENV) .platform_assets site
