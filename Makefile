# Two commands do all set-up on a fresh machine:
#   make lab   - create .venv if needed, install what the notebooks need, open the course in JupyterLab
#   make test  - the same set-up plus the test, benchmark and comparison extras, then the whole suite
#                (unit tests + every notebook under nbval)
# Without make (Windows): `python tools/setup_course.py lab|test` runs the same steps.
SHELL := /bin/bash
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP      := $(VENV)/.rlft-installed
STAMP_TEST := $(VENV)/.rlft-test-extras

.PHONY: setup setup-test lab test unit unit-fast notebooks notebooks-zh chapters bench clean chromium slides html

$(STAMP): pyproject.toml tools/lab-overrides.json tools/setup_course.py
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first, the CPU build: on Linux from PyTorch's CPU index when it answers within 5 s (PyPI's
	# Linux wheel is the multi-GB CUDA build), else from the configured index; it prints which.
	$(PY) tools/setup_course.py torch
	$(PY) -m pip install --quiet -e .
	# JupyterLab 4.6 runs widget callbacks on a second kernel thread by default ("comms over
	# subshells"); matplotlib's pyplot is not thread-safe, so slider redraws could come out blank.
	mkdir -p $(VENV)/share/jupyter/lab/settings
	cp tools/lab-overrides.json $(VENV)/share/jupyter/lab/settings/overrides.json
	@touch $(STAMP)

# The test, benchmark and comparison extras (pytest, nbval, playwright, SB3, TRL, TensorBoard):
# only `make test` and the targets that need them install these.
$(STAMP_TEST): $(STAMP)
	$(PY) -m pip install --quiet -e ".[dev,bench,compare]"
	@touch $(STAMP_TEST)

setup: $(STAMP)

setup-test: $(STAMP_TEST)

# Token authentication stays on; JupyterLab binds to localhost only. `make lab LANG=zh` opens the
# Chinese edition, zh/chapters (`LANG=zh` is no locale, so JupyterLab then runs under C.UTF-8).
EDITION := $(if $(filter zh,$(LANG)),zh/chapters,chapters)
lab: setup
	$(if $(filter zh,$(LANG)),LANG=C.UTF-8,) $(PY) -m jupyter lab --ServerApp.ip=127.0.0.1 $(if $(filter 0,$(shell id -u)),--allow-root,) $(EDITION)/00_start_here.ipynb

# Two workers (one per core); --dist loadfile keeps each notebook's cells in one kernel.
# The Chinese edition's code cells are the English ones (tests/test_zh_edition.py checks it), so
# make test runs three Chinese chapters under nbval, the ones whose checkers, explorers, labeller,
# live plots and quizzes then speak Chinese (00, 05, 12), and tests/test_zh_browser.py opens one in
# Chromium; all 26 Chinese notebooks would add ~4-5 min. `make notebooks-zh` runs them all.
ZH_NBVAL := zh/chapters/00_start_here.ipynb zh/chapters/05_preferences_and_dpo_math.ipynb \
            zh/chapters/12_grpo_and_verifiable_rewards.ipynb
test: setup-test chromium
	$(PY) -m pytest -q -n 2 --dist loadfile --nbval-lax tests chapters solutions $(ZH_NBVAL)

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

unit: setup-test
	$(PY) -m pytest -q tests

# Quick iteration: the unit tests without the slow ones (learning runs, pipelines, browser, builds).
unit-fast: setup-test
	$(PY) -m pytest -q -n 2 -m "not slow" tests

notebooks: setup-test
	$(PY) -m pytest -q -n 2 --dist loadfile --nbval-lax chapters solutions

notebooks-zh: setup-test
	$(PY) -m pytest -q -n 2 --dist loadfile --nbval-lax zh/chapters zh/solutions

# Authoring: regenerate chapters/ from solutions/, and the Chinese edition zh/solutions + zh/chapters
# from solutions/ and zh/translations/ (never overwrites a student's edited exercise; FORCE=1 does).
chapters: setup
	$(PY) tools/make_chapters.py $(if $(FORCE),--force,)
	$(PY) tools/zh_edition.py $(if $(FORCE),--force,)

# Classroom kit, for two audiences: build/instructor/{slides,html} from solutions/ (solved, with
# speaker notes) and build/student/{slides,html} from chapters/ (no solution, no hidden test, no
# notes). Every notebook is executed once per audience (build/executed/). Each folder opens from disk
# with the network off: reveal.js, MathJax, require.js, jQuery, the widget renderer and mermaid are
# fetched once from the npm registry (pinned, sha512-checked, cached in build/cache/npm/) and copied
# into its assets/ with their licences. The build fails if a page loads anything from the network or
# a student page shows a solution line. AUDIENCE=student|instructor builds one; ONLY=02 one notebook;
# LANG=zh builds the Chinese edition (zh/solutions, zh/chapters) into build/zh/.
SITE_ARGS = $(if $(FRESH),--fresh,) $(if $(AUDIENCE),--audience $(AUDIENCE),) $(if $(ONLY),--only $(ONLY),) \
            $(if $(filter zh,$(LANG)),--lang zh,)
slides: setup
	$(PY) tools/build_site.py slides $(SITE_ARGS)

html: setup
	$(PY) tools/build_site.py html $(SITE_ARGS)

# Grading with nbgrader (dev extra): build/nbgrader/ is a course directory with source/ (from
# solutions/, hidden tests included) and release/ (what students get, equal to chapters/).
.PHONY: assignments quiz
assignments: setup-test
	$(PY) tools/make_assignments.py

# The end-of-notebook multiple-choice questions as a Moodle GIFT file: build/quiz/rlft_course.gift.
quiz: setup
	$(PY) -m rlft_core.quiz --gift build/quiz/rlft_course.gift

bench: setup-test
	$(PY) bench/ppo_cartpole.py
	$(PY) bench/ppo_pendulum.py

clean:
	rm -rf build .pytest_cache
