PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint fmt bench bench-cpu bench-script clean

$(BIN)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@# So that `.venv/bin/python -m counter` works from any working directory.
	$(BIN)/python -c 'import pathlib, sysconfig; pathlib.Path(sysconfig.get_path("purelib"), "visit-counter.pth").write_text("$(CURDIR)\n")'
	touch $@

run: $(BIN)/.installed  ## serve on http://127.0.0.1:8000 (embedded store unless REDIS_URL is set)
	$(BIN)/gunicorn -c deploy/gunicorn.conf.py --access-logfile - wsgi:app

test: $(BIN)/.installed  ## lint, then every test (real-Redis tests skip without redis-server)
	$(BIN)/ruff check .
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(BIN)/.installed
	$(BIN)/ruff check .

fmt: $(BIN)/.installed
	$(BIN)/ruff check --fix .

bench: $(BIN)/.installed  ## the performance table: wrk against the baselines, script time, memory
	$(BIN)/python bench/load.py

bench-cpu: $(BIN)/.installed  ## CPU per request in one process, ours against the bare no-op (steadier)
	$(BIN)/python bench/cpu.py

bench-script: $(BIN)/.installed  ## Redis instructions per hit script call, by callgrind (needs valgrind)
	$(BIN)/python bench/script.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
