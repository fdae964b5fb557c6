# Two commands do all the set-up on a fresh machine (Python 3.11, Java 17):
#   make demo   install everything, then generate a small shop and run every stage
#   make test   install everything, then run the whole test suite
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
DELTA_JAR := io.delta:delta-spark_4.1_2.13:4.4.0
STAMP := $(VENV)/.installed

.PHONY: demo test install jars lint bench clean

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

# Delta's jars: Maven puts them in ~/.m2, where Spark's resolver looks before the network, and
# one Spark start caches the resolved set in ~/.ivy2.5.2. Both are no-ops once cached.
jars: install
	@if command -v mvn >/dev/null; then \
	  mvn -q dependency:get -Dartifact=$(DELTA_JAR) >/dev/null 2>&1 || echo "mvn could not fetch $(DELTA_JAR); Spark will try itself"; \
	fi
	$(BIN)/python -c "from reconnect.runtime import warm_up; warm_up()"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: install jars
	$(BIN)/python bench/run_all.py

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
