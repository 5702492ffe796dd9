# The README's commands. Each creates .venv and installs what it needs; nothing else is assumed.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

CHECKOV_VENV    := .venv-checkov
CHECKOV_VERSION := 3.3.30
CHECKOV_STAMP   := $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)

.PHONY: demo test bench test-faults fuzz clean browser checkov libreoffice

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt 2>&1 | grep -v "^WARNING: Location" || true
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e . 2>&1 | grep -v "^WARNING: Location" || true
	$(PY) -c "import gspread, openpyxl, python_calamine, click, filelock, pytest"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/qunflow demo --out demo-out

# Headless Chromium and a CJK font (fonts-noto-cjk) for the HTML checks: installed when we can (root + apt),
# skipped with a message otherwise (the browser tests then skip, or cannot see Chinese glyphs and say so).
BROWSER_PACKAGES := chromium fonts-noto-cjk fonts-noto-color-emoji
browser:
	@{ command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi "noto sans cjk" && fc-list 2>/dev/null | grep -qi "noto color emoji" ; } || \
	 { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get install -y -qq $(BROWSER_PACKAGES) >/dev/null 2>&1 || (apt-get update -qq >/dev/null 2>&1 && \
	   apt-get install -y -qq $(BROWSER_PACKAGES) >/dev/null 2>&1)) ; } || \
	  echo "note: chromium or fonts-noto-cjk not available; the HTML rendering tests will be skipped or fail on Chinese glyphs"

# LibreOffice Calc (headless) for the checks that a workbook LibreOffice saved, formulas and cached values
# included, survives a tick and opens again (tests/test_xlsx_patch.py, test_xlsx_store.py, test_metrics_charts.py):
# installed when we can (root + apt, about 20 s), skipped with a message otherwise (those tests then skip).
libreoffice:
	@command -v soffice >/dev/null 2>&1 || \
	 { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get install -y -qq libreoffice-calc-nogui >/dev/null 2>&1 || (apt-get update -qq >/dev/null 2>&1 && \
	   apt-get install -y -qq libreoffice-calc-nogui >/dev/null 2>&1)) ; } || \
	  echo "note: LibreOffice not available; the LibreOffice round-trip tests will be skipped"

# checkov (tests/test_infra.py) in its own venv, so its many pins never meet ours. If it cannot be installed,
# `make test` goes on and those checks are skipped with a message.
$(CHECKOV_STAMP):
	@rm -rf $(CHECKOV_VENV)
	@{ $(PYTHON) -m venv $(CHECKOV_VENV) && \
	   $(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check checkov==$(CHECKOV_VERSION) \
	     2>&1 | grep -v "^WARNING: Location" | cut -c1-300 ; \
	   $(CHECKOV_VENV)/bin/checkov --version >/dev/null 2>&1 && touch $(CHECKOV_STAMP) ; } || \
	 { rm -rf $(CHECKOV_VENV); echo "note: checkov $(CHECKOV_VERSION) could not be installed; the checkov checks will be skipped"; }

checkov: $(CHECKOV_STAMP)

# Two workers (pytest-xdist), each taking whole files, so a file's shared fixtures (one 30-day demo) are made once.
test: $(STAMP) browser checkov libreoffice
	$(PY) -m pytest -q -p no:cacheprovider -n 2 --dist loadfile

# Prints every table and writes it into docs/PERFORMANCE.md with the machine and the date (BENCH_QUICK=1:
# small sizes, printed only). The tick grid (bench/grid.py) takes several minutes: one cell at a time.
bench: $(STAMP)
	$(PY) bench/run.py --publish
	$(PY) bench/delivery.py --publish
	$(PY) bench/baseline.py --publish
	$(PY) bench/grid.py --publish
	$(PY) bench/xlsx_write.py --publish
	$(PY) bench/history.py --publish
	$(PY) bench/hotspots.py --publish
	$(PY) bench/incremental.py --publish

# The fault suite alone (it is part of `make test` too): kills, overlapping ticks, Sheets and platform faults.
test-faults: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider tests/test_crash.py tests/test_crash_later.py tests/test_fault_campaign.py tests/test_outages.py \
	  tests/test_tick_google.py tests/test_delivery_integration.py tests/test_dispatcher.py
	CRASH_CLOUD_RUNS=50 $(PY) -m pytest -q -p no:cacheprovider -s tests/test_crash_cloud.py

# The bad-input fuzz at 10,000 examples (500 run in `make test`).
fuzz: $(STAMP)
	QUNFLOW_FUZZ_EXAMPLES=10000 $(PY) -m pytest -q -p no:cacheprovider tests/test_fuzz_cells.py

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) demo-out .pytest_cache
