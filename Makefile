# Two set-up commands: `make demo` and `make test`. Both create .venv if missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_DEV := $(VENV)/.installed-dev
STAMP_DOCS := $(VENV)/.installed-docs

.PHONY: demo test install clean bench docs

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(STAMP_DEV): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(STAMP_RUN)

$(STAMP_DOCS): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[docs]'
	touch $@ $(STAMP_RUN)

install: $(STAMP_RUN)

demo: $(STAMP_RUN)
	$(BIN)/gankit train mnist-dcgan --out runs/demo-mnist --force

test: $(STAMP_DEV)
	$(BIN)/python -m pytest -q

# the documentation site (README.md + docs/ + the config reference from the schema) into site/
docs: $(STAMP_DOCS)
	$(BIN)/python -m mkdocs build --strict --site-dir site
	@echo "open site/index.html"

bench: $(STAMP_DEV)
	$(BIN)/python benchmarks/bench_train_step.py
	$(BIN)/python benchmarks/bench_images.py

clean:
	rm -rf $(VENV) runs build site src/*.egg-info
