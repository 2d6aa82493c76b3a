# Two commands do all set-up on a fresh machine:
#   make lab   - create .venv if needed, install, open the course in JupyterLab
#   make test  - the same set-up, then the whole suite (unit tests + every notebook under nbval)
SHELL := /bin/bash
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.rlft-installed

.PHONY: setup lab test unit notebooks chapters bench clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first: the CPU wheel. Installed later as a dependency, pip could pick a multi-GB CUDA build.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[dev,bench]"
	@touch $(STAMP)

setup: $(STAMP)

# Token authentication stays on; JupyterLab binds to localhost only.
lab: setup
	$(VENV)/bin/jupyter lab --ServerApp.ip=127.0.0.1 chapters/00_start_here.ipynb

test: setup
	$(PY) -m pytest -q --nbval-lax tests chapters solutions

unit: setup
	$(PY) -m pytest -q tests

notebooks: setup
	$(PY) -m pytest -q --nbval-lax chapters solutions

# Authoring: regenerate chapters/ from solutions/ (never overwrites a student's edited exercise;
# FORCE=1 does).
chapters: setup
	$(PY) tools/make_chapters.py $(if $(FORCE),--force,)

bench: setup
	$(PY) bench/ppo_cartpole.py
	$(PY) bench/ppo_pendulum.py

clean:
	rm -rf build .pytest_cache
