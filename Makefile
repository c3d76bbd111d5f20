# The README's two commands: `make demo` and `make test`. Both create .venv when needed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint typecheck unit bench fuzz clean test-pythons

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# A venv made when the distribution was named "agentkit" keeps that copy's pytest11 entry point
# beside agentkit-realtime's, and pytest would load the plugin twice: remove it first.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip uninstall --quiet --yes agentkit 2>/dev/null || true
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/agentkit run examples/weather.py --simulate \
		--say "What's the weather in Oslo?" --say "And in Paris?" --say "What about Atlantis?"

lint: $(VENV)/.installed
	$(BIN)/ruff check agentkit tests examples benchmarks
	$(BIN)/ruff format --check agentkit

typecheck: $(VENV)/.installed
	$(BIN)/mypy

unit: $(VENV)/.installed
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test: lint typecheck unit

# The suite again on the other Pythons this machine has (pyenv's 3.10 and 3.12), when present:
# agentkit supports 3.10+, and asyncio differs between them.
OTHER_PYTHONS := $(wildcard /root/.pyenv/versions/3.10.*/bin/python3 /root/.pyenv/versions/3.12.*/bin/python3)

# What does not depend on the interpreter runs once, on the main Python: building the wheel
# into fresh venvs, the benchmark's smoke run and the browser.
OTHER_PYTHONS_SKIP := --ignore=tests/packaging --ignore=tests/benchmarks --ignore=tests/browser

test-pythons:
	@for py in $(OTHER_PYTHONS); do \
		version=$$($$py -c 'import sys; print("%d.%d" % sys.version_info[:2])'); \
		echo "== Python $$version"; \
		$(MAKE) --no-print-directory unit PYTHON=$$py VENV=.venv-$$version \
			PYTEST_ARGS="$(OTHER_PYTHONS_SKIP)" || exit 1; \
	done

# The stateful fuzz of tests/robustness, longer than the suite runs it (a few minutes).
fuzz: $(VENV)/.installed
	AGENTKIT_FUZZ_RUNS=$${AGENTKIT_FUZZ_RUNS:-8} AGENTKIT_FUZZ_STEPS=$${AGENTKIT_FUZZ_STEPS:-40} \
		$(BIN)/python -m pytest tests/robustness/test_stateful_fuzz.py -q

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) .venv-* .pytest_cache .mypy_cache .ruff_cache build dist
