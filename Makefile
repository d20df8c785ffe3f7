# 秒批 miaopi — the two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DB ?= var/demo.db

.PHONY: demo test lint typecheck golden unit install clean paddle-env test-paddle

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# The paddleocr backend lives in its own environment: the `paddle` extra's pins (numpy, a second
# cv2) cannot share .venv. Built once (its stamp), from the same project, with the test runner.
# paddlex's opencv-contrib-python and rapidocr's opencv-python-headless both write the `cv2`
# package; the headless build is put back last so the `cv2` imported is the one without GUI.
PADDLE_VENV := .venv-paddle
PADDLE_STAMP := $(PADDLE_VENV)/.installed

$(PADDLE_STAMP): pyproject.toml
	test -x $(PADDLE_VENV)/bin/python || $(PYTHON) -m venv $(PADDLE_VENV)
	$(PADDLE_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(PADDLE_VENV)/bin/python -m pip install --quiet -e ".[paddle]" "pytest>=8"
	$(PADDLE_VENV)/bin/python -m pip install --quiet --no-deps --force-reinstall \
		"opencv-python-headless==4.10.0.84"
	$(PADDLE_VENV)/bin/python -m pip check
	touch $(PADDLE_STAMP)

paddle-env: $(PADDLE_STAMP)

# both OCR backends on the committed test images and sample scans; MIAOPI_REQUIRE_PADDLE turns the
# paddle tests' skip into a failure, so a broken environment cannot pass unnoticed
test-paddle: $(PADDLE_STAMP)
	MIAOPI_REQUIRE_PADDLE=1 $(PADDLE_VENV)/bin/python -m pytest -p no:cacheprovider \
		tests/extractors/test_ocr.py tests/extractors/test_backends.py

demo: $(STAMP)
	$(BIN)/miaopi data load samples/shared-data --db sqlite:///$(DEMO_DB)
	$(BIN)/python -m miaopi.demo --db sqlite:///$(DEMO_DB)

lint: $(STAMP)
	$(BIN)/ruff check engine store service miaopi api extractors tests benchmarks samples
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest -m "not paddle"  # the paddle tests run in make test-paddle

golden: $(STAMP)
	$(BIN)/miaopi lint rulesets
	$(BIN)/miaopi test rulesets/deed-tax --require-full-coverage
	$(BIN)/miaopi test rulesets/safety-permit-renewal --require-full-coverage
	$(BIN)/miaopi test rulesets/graduate-hukou --require-full-coverage

# pytest runs last so that its summary is the closing line
test: lint typecheck golden test-paddle unit

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
