# balldetect: `make test` and `make report` set everything up by themselves.
SHELL := /bin/bash
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
PROFILE ?= default
DATA ?=
APT_PKGS := chromium libjs-mathjax poppler-utils
STAMP := $(VENV)/.installed
# extras to install and modules that must then import (a GPU box on Python 3.12 without pybullet:
# make report PROFILE=full EXTRAS=report IMPORTS=balldetect,torch,papermill)
EXTRAS ?= all,dev
IMPORTS ?= balldetect,torch,fastai,nbdev,papermill,hyperopt,pybullet

.PHONY: setup apt install lab-env test check-sync nbtest nbtest-threads pytest report tensorboard lab data export clean-nbs hp-full

setup: apt install lab-env

# apt tools for the PDF report (root only; otherwise say what is missing)
apt:
	@missing=""; for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then echo "apt: installing$$missing"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing) >/tmp/balldetect-apt.log 2>&1 \
	      || { tail -20 /tmp/balldetect-apt.log; exit 1; }; \
	  else echo "apt: missing$$missing (needed for the PDF report; install them as root)"; fi; fi

# a fresh .venv with every extra takes 7.1 GB (3.2 GB of them torch's CUDA libraries); pip needs room to unpack
INSTALL_NEEDS_KB := 8388608
# the venv is (re)installed only when pyproject.toml's content or EXTRAS change (nbdev-export rewrites its mtime)
install:
	@want="$$(md5sum pyproject.toml | cut -d' ' -f1) $(EXTRAS)"; \
	if [ -x $(PY) ] && [ "$$(cat $(STAMP) 2>/dev/null)" = "$$want" ]; then exit 0; fi; \
	if [ ! -x $(PY) ]; then \
	  free_kb=$$(df -Pk . | awk 'NR==2 {print $$4}'); \
	  if [ "$$free_kb" -lt $(INSTALL_NEEDS_KB) ]; then \
	    echo "error: $(CURDIR): $$((free_kb / 1048576)) GB free; the first install of $(VENV) needs about 8 GB (torch with its CUDA libraries)"; exit 1; fi; \
	  python3 -m venv $(VENV); fi; \
	echo "setup: installing balldetect[$(EXTRAS)] into $(VENV) (first time: a few minutes)"; \
	$(PY) -m pip install -q --disable-pip-version-check -e '.[$(EXTRAS)]' 2>&1 | grep -v "^WARNING: Location"; \
	$(PY) -c "import $(IMPORTS)" >/dev/null 2>&1 || { echo "setup: install failed (import $(IMPORTS))"; exit 1; }; \
	if $(PY) -c "import ipykernel" 2>/dev/null; then $(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null; fi; \
	echo "$$want" > $(STAMP)

# notebooks clean and package in sync with them
check-sync: setup
	@before="$$(git status --porcelain -uall; git diff | md5sum)"; \
	$(BIN)/nbdev-clean >/dev/null && $(BIN)/nbdev-export >/dev/null; \
	after="$$(git status --porcelain -uall; git diff | md5sum)"; \
	if [ "$$before" != "$$after" ]; then echo "check-sync: nbdev-clean or nbdev-export changed files; commit clean notebooks and the exported package:"; git status --short; exit 1; fi; \
	echo "check-sync: notebooks clean, package in sync"

# two notebooks at a time on 2 cores: one torch thread each (two each oversubscribe and crawl)
nbtest: setup
	OMP_NUM_THREADS=1 $(BIN)/nbdev-test --n-workers 2 --timing

# the notebook tests once more with torch's default thread count (one notebook at a time): their float
# tolerances must hold on any machine, not only under OMP_NUM_THREADS=1 (about 40 s on 2 cores)
nbtest-threads: setup
	env -u OMP_NUM_THREADS $(BIN)/nbdev-test --n-workers 1

pytest: setup
	$(BIN)/pytest -q --durations=15 tests

test: setup check-sync nbtest nbtest-threads pytest

export: setup
	$(BIN)/nbdev-export

clean-nbs: setup
	$(BIN)/nbdev-clean

data: setup
	$(BIN)/balldetect generate --out datasets/sim --profile $(PROFILE)

# TensorBoard over the report's runs (or DIR=runs/NAME: a run, or a search's trials/), on localhost; it prints the URL
tensorboard: setup
	$(BIN)/tensorboard --logdir $(or $(DIR),reports/runs) --host 127.0.0.1 --port $(or $(PORT),6006)

report: setup
	$(BIN)/balldetect report --profile $(PROFILE) $(if $(DATA),--data-dir $(DATA),)

# The notebooks' kernel, named after the project, and JupyterLab's defaults (no news prompt, no
# update check), both inside the venv: nothing is written to $HOME
KERNEL_SPEC := $(VENV)/share/jupyter/kernels/balldetect/kernel.json
LAB_OVERRIDES := $(VENV)/share/jupyter/lab/settings/overrides.json
LAB_SETTINGS := {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": false}}
lab-env: install
	@test -f $(KERNEL_SPEC) || $(PY) -m ipykernel install --sys-prefix --name balldetect --display-name balldetect >/dev/null
	@mkdir -p $(dir $(LAB_OVERRIDES)); echo '$(LAB_SETTINGS)' | cmp -s - $(LAB_OVERRIDES) || echo '$(LAB_SETTINGS)' > $(LAB_OVERRIDES)

# JupyterLab on the notebooks, opening the start notebook; token auth stays on, the URL with its token is printed
LAB_PORT ?= 8888
LAB_START ?= 000_start_here.ipynb
lab: setup
	@echo "lab: starting JupyterLab on nbs/; open the http://127.0.0.1:$(LAB_PORT)/lab/tree/$(LAB_START)?token=... URL printed below"
	$(BIN)/jupyter lab --no-browser --ip=127.0.0.1 --port=$(LAB_PORT) --notebook-dir=nbs --LabApp.default_url=/lab/tree/$(LAB_START) \
	  $$( [ "$$(id -u)" = 0 ] && echo --allow-root )

# the earlier solution's search, 2 x 100 trials on the full profile, on a Ray cluster: CLUSTER=HOST:PORT joins a running
# one; the default local:1 makes this machine a one-node cluster (one trial per GPU). Rerun to resume.
CLUSTER ?= local:1
HP_EVALS ?= 100
hp-full: setup
	$(BIN)/balldetect hp --model detect --profile full --max-evals $(HP_EVALS) --cluster $(CLUSTER) --out runs/hp_full_detect $(if $(DATA),--data-dir $(DATA),)
	$(BIN)/balldetect hp --model forecast --profile full --max-evals $(HP_EVALS) --cluster $(CLUSTER) --out runs/hp_full_forecast $(if $(DATA),--data-dir $(DATA),)
