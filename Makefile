# Two commands do all the set-up on a fresh machine (Python 3.11, Java 17):
#   make demo   install everything, then generate a small shop and run every stage
#   make test   install everything, then run the whole test suite
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast install jars lint bench clean

demo: install jars
	$(BIN)/reconnect demo

test: install jars
	$(BIN)/python -m pytest -q

install: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is needed ($(PYTHON) not found; set PYTHON=...)"; exit 2; }
	@command -v java >/dev/null || { echo "Java 17 is needed by Spark (Debian: apt-get install openjdk-17-jre-headless)"; exit 2; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# The pure tests (no Spark session), for the edit-test loop.
test-fast: install
	$(BIN)/python -m pytest -q -m "not spark" tests/unit

# Delta's jars: one Spark start resolves them from Maven Central and caches them in ~/.ivy2.5.2
# (a no-op once cached). If that fails and Maven is installed, Maven fetches them into ~/.m2 and
# the start is retried (reconnect.runtime.warm_up).
jars: install
	$(BIN)/python -c "from reconnect.runtime import warm_up; warm_up()"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/sqlfluff lint models/

bench: install jars
	$(BIN)/python bench/run_all.py

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
