# The README's quick start: `make run` (install, then the main job on the embedded
# defaults) and `make test` (install, then the whole test suite). CI runs `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test dev bench lock clean

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

dev: $(STAMP)
	$(BIN)/platform-assets dev

bench: $(STAMP)
	for script in benchmarks/bench_*.py; do $(BIN)/python $$script || exit 1; done

# Two hashed locks: requirements.lock (everything, dev tools included: `make install` takes it
# as constraints, hashes and all) and requirements.image.lock (the runtime dependencies and the
# build backend only, at requirements.lock's versions: the Dockerfile installs it with
# --require-hashes). Existing pins are kept unless pyproject.toml asks for others.
lock:
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes \
		-o requirements.lock
	printf 'hatchling\n' | $(BIN)/uv pip compile pyproject.toml - --python-version 3.11 \
		--generate-hashes -c requirements.lock -o requirements.image.lock

clean:
	rm -rf $(VENV) .platform_assets
