# renewgeo: the two set-up commands of the README.
#   make demo   creates .venv, installs renewgeo, runs the sample project end to end
#   make test   creates .venv with the test extras (+ system packages the tests need),
#               runs ruff, mypy and the whole pytest suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo notebook test check lint typecheck pytest sysdeps bench sample docs clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "renewgeo needs Python >= 3.11; run make PYTHON=python3.11 ...")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/renewgeo demo --out output/chuangchuangyi --maps-dir maps

$(VENV)/.installed-notebook: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[notebook]"
	@touch $@ $(VENV)/.installed

# a Jupyter kernel with renewgeo: "Python (renewgeo)" in Jupyter's kernel list (the kernelspec goes to ~/.local/share/jupyter)
notebook: $(VENV)/.installed-notebook
	$(BIN)/python -m ipykernel install --user --name renewgeo --display-name "Python (renewgeo)"

sysdeps:
	bash scripts/install_system_deps.sh

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check renewgeo tests benchmarks layers

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

pytest: $(VENV)/.installed-dev sysdeps
	$(BIN)/python -m pytest

check: lint typecheck

# ruff, mypy and the documentation site (warnings as errors) first, so pytest's summary is the last line printed
test: check docs pytest

$(VENV)/.installed-bench: pyproject.toml $(VENV)/.installed-dev
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	@touch $@

bench: $(VENV)/.installed-bench
	@for f in benchmarks/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

$(VENV)/.installed-docs: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[docs]"
	@touch $@ $(VENV)/.installed

# the documentation site: gallery screenshots from fresh runs of the samples, then every page,
# notebook and docstring, warnings as errors, into site/
docs: $(VENV)/.installed-docs sysdeps
	$(BIN)/python docs/make_gallery.py
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

sample: $(VENV)/.installed
	$(BIN)/python layers/chuangchuangyi/make_sample.py

clean:
	rm -rf $(VENV) output .pytest_cache .mypy_cache .ruff_cache
