# Two commands: `make demo` serves the demo, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

TRANSLATIONS := service/translations
CATALOGUES := $(wildcard $(TRANSLATIONS)/*/LC_MESSAGES/messages.po)
COMPILED := $(CATALOGUES:.po=.mo)

.PHONY: demo test lint install clean messages messages-extract messages-update messages-compile words

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP) $(COMPILED)

demo: install
	bash scripts/demo.sh

test: install
	bash scripts/test.sh $(ARGS)

# Words: gettext catalogues (zh_Hans_CN, Babel's name for zh-CN, and en) under
# service/translations, read by Flask-Babel. `make messages` extracts every marked string (the
# keywords are scripts/check_words.py's) and merges it into both catalogues; translate the new
# entries of zh_Hans_CN, then `make messages-compile` (install does it too; .mo files are built,
# never committed). `make words` checks nothing is left untranslated.
messages: messages-extract messages-update

messages-extract: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg --no-default-keywords \
		$$($(BIN)/python scripts/check_words.py --keywords) --sort-by-file --no-wrap \
		--omit-header -o $(TRANSLATIONS)/messages.pot .

messages-update: $(STAMP)
	$(BIN)/pybabel update --no-fuzzy-matching --ignore-obsolete --no-wrap \
		-i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS)

messages-compile: $(COMPILED)

words: $(STAMP)
	$(BIN)/python scripts/check_words.py

$(TRANSLATIONS)/%/LC_MESSAGES/messages.mo: $(TRANSLATIONS)/%/LC_MESSAGES/messages.po $(STAMP)
	$(BIN)/pybabel compile -i $< -o $@

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) instance .pytest_cache
