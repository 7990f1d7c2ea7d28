# `make chat` runs the web chat on the shipped articles (`make chat PORT=8080` on another port); `make test` runs the tests.
# Both create .venv and install the package (editable, with the test, ray, st and train extras) on first use.
PY ?= python3
VENV := .venv
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml requirements.txt | cksum | cut -d' ' -f1)

$(STAMP): pyproject.toml requirements.txt
	$(PY) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test,ray,st,train]'
	rm -f $(VENV)/.installed-*
	touch $@

.PHONY: install chat test bench
install: $(STAMP)

PORT ?= 7860
chat: $(STAMP)
	$(VENV)/bin/qa serve --port $(PORT)

test: $(STAMP)
	GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1 $(VENV)/bin/python -m pytest -q -p no:cacheprovider

bench: $(STAMP)
	$(VENV)/bin/python bench/bench_index.py
