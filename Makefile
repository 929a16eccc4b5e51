# Two commands: `make lab` opens the course, `make test` runs every test (fast mode).
# `make browser-test` also opens a lesson in a real JupyterLab in headless Chromium (needs /usr/bin/chromium).
# TORCH is the torch requirement pip installs first. The default pins the CPU wheel used by CI;
# elsewhere run e.g. `make lab TORCH=torch` for your platform's default (CUDA on Linux), or
# `make lab TORCH="torch --index-url https://download.pytorch.org/whl/cpu"` for a CPU-only build.
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.nicelab-installed
BROWSER_STAMP := $(VENV)/.nicelab-browser-installed
PYTEST_ARGS ?=
# Extra JupyterLab options, e.g. `make lab LAB_ARGS="--port 9000 --no-browser"`.
LAB_ARGS ?=
# Jupyter refuses to run as root (containers) unless told to.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: setup lab test unit notebooks lint format figures benchmarks clean browser-test

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

lab: setup
	$(BIN)/jupyter lab $(ROOT_FLAG) $(LAB_ARGS) notebooks/00_start_here.ipynb

# tests/browser needs Chromium and Playwright: `make browser-test` runs it, `make test` skips it.
test: lint
	NICELAB_FAST=1 MPLBACKEND=Agg $(BIN)/python -m pytest tests notebooks --ignore=tests/browser \
		--nbval-lax --nbval-current-env $(PYTEST_ARGS)

unit: setup
	NICELAB_FAST=1 MPLBACKEND=Agg $(BIN)/python -m pytest tests --ignore=tests/browser $(PYTEST_ARGS)

# A lesson in JupyterLab in headless system Chromium (never downloads a browser); screenshots go to the
# git-ignored runs/browser/ (NICELAB_BROWSER_SCREENSHOTS=figures refreshes the gallery), end-to-end times to
# benchmarks/results/widgets_browser.json. On Debian/Ubuntu: apt-get install chromium.
$(BROWSER_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[test,browser]"
	touch $(BROWSER_STAMP)

browser-test: $(BROWSER_STAMP)
	$(BIN)/python -m pytest tests/browser -v -s $(PYTEST_ARGS)

notebooks: setup
	NICELAB_FAST=1 $(BIN)/python -m pytest notebooks --nbval-lax --nbval-current-env $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check nicelab tests benchmarks notebooks
	$(BIN)/ruff format --check nicelab tests benchmarks

format: setup
	$(BIN)/ruff format nicelab tests benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

# Regenerate figures/: run every notebook in full mode; lessons call nicelab.plots.export_figure.
# `make figures FIGURE_NOTEBOOKS=notebooks/05_nice_2d.ipynb` redoes one lesson's figures only.
FIGURE_NOTEBOOKS ?= $(wildcard notebooks/*.ipynb)
figures: setup
	mkdir -p figures
	for nb in $(FIGURE_NOTEBOOKS); do \
		echo "figures from $$nb"; \
		NICELAB_FAST=0 NICELAB_FIGURES=$(CURDIR)/figures MPLBACKEND=Agg $(BIN)/jupyter nbconvert --to notebook --execute \
			--ExecutePreprocessor.timeout=-1 --output-dir $$(mktemp -d) "$$nb" || exit 1; \
	done
