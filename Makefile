# Two commands do all set-up on a fresh machine:
#   make lab   - create .venv if needed, install, open the course in JupyterLab
#   make test  - the same set-up, then the whole suite (unit tests + every notebook under nbval)
SHELL := /bin/bash
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.rlft-installed

.PHONY: setup lab test unit unit-fast notebooks chapters bench clean chromium slides html

$(STAMP): pyproject.toml tools/lab-overrides.json
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first: the CPU wheel. Installed later as a dependency, pip could pick a multi-GB CUDA build.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[dev,bench,compare]"
	# JupyterLab 4.6 runs widget callbacks on a second kernel thread by default ("comms over
	# subshells"); matplotlib's pyplot is not thread-safe, so slider redraws could come out blank.
	mkdir -p $(VENV)/share/jupyter/lab/settings
	cp tools/lab-overrides.json $(VENV)/share/jupyter/lab/settings/overrides.json
	@touch $(STAMP)

setup: $(STAMP)

# Token authentication stays on; JupyterLab binds to localhost only.
lab: setup
	$(VENV)/bin/jupyter lab --ServerApp.ip=127.0.0.1 $(if $(filter 0,$(shell id -u)),--allow-root,) chapters/00_start_here.ipynb

# Two workers (one per core); --dist loadfile keeps each notebook's cells in one kernel.
test: setup chromium
	$(PY) -m pytest -q -n 2 --dist loadfile --nbval-lax tests chapters solutions

# tests/test_browser.py drives Debian's Chromium (never `playwright install`). Installed here when
# missing and make runs as root; otherwise make stops and says how. (The CJK font draws the Chinese
# headings in the test's screenshot.)
CHROMIUM ?= /usr/bin/chromium
export CHROMIUM
chromium:
	@if [ ! -x "$(CHROMIUM)" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Chromium for the browser test (apt-get install -y chromium)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei; \
	  else \
	    echo "The browser test needs Chromium at $(CHROMIUM). Install it with:"; \
	    echo "    sudo apt-get install -y chromium"; \
	    echo "then run make test again. (Do not run 'playwright install'.)"; \
	    exit 1; \
	  fi; \
	fi

unit: setup
	$(PY) -m pytest -q tests

# Quick iteration: the unit tests without the slow ones (learning runs, pipelines, browser, builds).
unit-fast: setup
	$(PY) -m pytest -q -n 2 -m "not slow" tests

notebooks: setup
	$(PY) -m pytest -q -n 2 --dist loadfile --nbval-lax chapters solutions

# Authoring: regenerate chapters/ from solutions/ (never overwrites a student's edited exercise;
# FORCE=1 does).
chapters: setup
	$(PY) tools/make_chapters.py $(if $(FORCE),--force,)

# Classroom kit: execute every notebook of solutions/ once (build/executed/), then reveal.js slides
# (build/slides/) and an HTML version of the course (build/html/), each with an index.html.
# Opening them needs the network for reveal.js, MathJax and the widget renderer (see tools/build_site.py).
slides: setup
	$(PY) tools/build_site.py slides $(if $(FRESH),--fresh,) $(if $(REVEAL_URL),--reveal-url $(REVEAL_URL),)

html: setup
	$(PY) tools/build_site.py html $(if $(FRESH),--fresh,)

bench: setup
	$(PY) bench/ppo_cartpole.py
	$(PY) bench/ppo_pendulum.py

clean:
	rm -rf build .pytest_cache
