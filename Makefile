# Two commands: `make demo` serves the demo, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

TRANSLATIONS := service/translations
CATALOGUES := $(wildcard $(TRANSLATIONS)/*/LC_MESSAGES/messages.po)
COMPILED := $(CATALOGUES:.po=.mo)

.PHONY: demo test lint install clean messages messages-extract messages-update messages-compile

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

# Words: gettext catalogues (zh_CN and en) under service/translations, read by Flask-Babel.
# `make messages` extracts every marked string and merges it into both catalogues; translate the
# new entries of zh_CN, then `make messages-compile` (install does it too; .mo files are built,
# never committed).
messages: messages-extract messages-update

# Keywords: our markers (N_, NP_ for enum names) and the message argument of the calls that
# carry a field message or a reason, so domain code writes plain English and needs no import.
KEYWORDS := -k _l -k N_ -k NP_:1c,2 -k FieldMessage -k field:2 -k ValidationError \
	-k AlreadyExists -k InputInvalid:2 -k Problem:3 -k add:3

messages-extract: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg $(KEYWORDS) --sort-by-file --no-wrap \
		--omit-header -o $(TRANSLATIONS)/messages.pot .

messages-update: $(STAMP)
	$(BIN)/pybabel update --no-fuzzy-matching --ignore-obsolete --no-wrap \
		-i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS)

messages-compile: $(COMPILED)

$(TRANSLATIONS)/%/LC_MESSAGES/messages.mo: $(TRANSLATIONS)/%/LC_MESSAGES/messages.po $(STAMP)
	$(BIN)/pybabel compile -i $< -o $@

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) instance .pytest_cache
