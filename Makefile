# `make demo` and `make test` each create the environment they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-all bench clean browser

# setuptools' note on editable installs (a folder named like the package may shadow it: here it
# is the package) is information only; PYTHONWARNINGS silences it by its message, nothing else
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/python -m pip install --quiet -e '.[test,dask,service]'
	@echo "compiling the pair kernels once (numba caches them)"
	$(BIN)/python -c 'from wopmatch.solver.graph.kernels import warm; warm()'
	$(BIN)/python -c 'from wopmatch.solver.donors.kernels import warm; warm()'
	touch $(STAMP)

# solve validates the round first and prints its warnings (wopmatch validate does that alone)
demo: $(STAMP)
	$(BIN)/wopmatch solve instances/demo.json -o demo-solution.json
	$(BIN)/wopmatch verify instances/demo.json demo-solution.json
	@echo "--- the same round as a facilitator's workbook: solve to result sheets, then the HTML report"
	$(BIN)/wopmatch solve instances/demo.xlsx -o demo-result.xlsx --quiet
	@echo "--- a draft work plan per partnership (two A4 pages each), linked from the report"
	$(BIN)/wopmatch plans instances/demo.xlsx demo-result.json -o demo-plans
	$(BIN)/wopmatch report instances/demo.xlsx demo-result.json -o demo-report.html --plans demo-plans

# The report test renders in Debian's chromium: installed here when missing and
# running as root (CI); otherwise that one test is skipped with a note.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium for the report test"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "note: chromium is not installed (apt-get install chromium); the browser test will be skipped"; fi; }

# two worker processes (pytest-xdist), each taking whole test files: 3.5 min instead of 6.5 on two cores
test: $(STAMP) browser
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

test-all: $(STAMP) browser
	$(BIN)/python -m pytest -q -m '' -n 2 --dist loadfile

bench: $(STAMP)
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/peers.py

clean:
	rm -rf $(VENV) demo-solution.json demo-result.xlsx demo-result.json demo-report.html demo-plans .pytest_cache
