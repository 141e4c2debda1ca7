"""Fail when a word could reach a reader untranslated.

    .venv/bin/python scripts/check_words.py            # the whole tree; exit 1 on any finding
    .venv/bin/python scripts/check_words.py --keywords # the extraction keywords, for pybabel

Three checks:

1. Every msgid the sources mark (extracted here with the same keywords as ``make messages``) is
   in the Chinese catalogue, translated, not fuzzy, with the same ``{name}``/``%(name)s``
   fields as its msgid.
2. Every entry of the catalogue is translated (an entry nobody marks any more is dropped by
   ``make messages``).
3. No template shows text outside gettext: the text between tags, the readable attributes
   (``title``, ``placeholder``, ``aria-label``, ``alt``) and the string literals a template prints
   hold no Chinese and no English words once the ``_()``/``pgettext()`` calls are taken out.
   Units, acronyms and the names of the two languages (each written in itself, on the language
   switch) are allowed.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "service" / "translations" / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"
TEMPLATE_DIRS = ("admin/templates", "labels/templates")
PACKAGES = ("service", "ledger", "labels", "points", "admin")
#: gettext's own keywords, our markers, and the message argument of the calls that carry a field
#: message or a reason (so domain code writes plain English and imports nothing).
KEYWORDS: dict[str, tuple[int | tuple[int, str], ...]] = {
    "_": (1,),
    "gettext": (1,),
    "ngettext": (1, 2),
    "pgettext": ((1, "c"), 2),
    "_l": (1,),
    "lazy_gettext": (1,),
    "N_": (1,),
    "NP_": ((1, "c"), 2),
    "FieldMessage": (1,),
    # The ledger's errors: the detail, shown in the error's message and as its field's message.
    "LedgerError": (2,),
    "CreditError": (2,),
    "IdempotencyConflict": (2,),
    "field": (2,),
    "ValidationError": (1,),
    "AlreadyExists": (1,),
    "InputInvalid": (2,),
    "Problem": (3,),
    "add": (3,),
}

#: Words a template may show as they are: units, symbols, acronyms and codes of the trade.
ALLOWED_WORDS = {
    "g", "kg", "t", "mu", "CO2e", "CO₂e", "CO2", "CO₂", "N₂O", "CH4", "GTIN", "GS1", "AI", "CSV",
    "QR", "LOT", "ID", "JSON", "PNG", "SVG", "URL", "API", "CNY", "USCC", "PDF", "WeChat",
}  # fmt: skip
#: The language switch names each language in itself.
LANGUAGE_NAMES = {"English", "中文"}
READABLE_ATTRIBUTES = ("title", "placeholder", "aria-label", "alt")

CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]")
ENGLISH_WORD = re.compile(r"(?<![\w.-])[A-Za-z][A-Za-z'’]+(?![\w-])")
FIELD = re.compile(r"\{(\w+)[^{}]*\}|%\((\w+)\)[sd]")
GETTEXT_CALL = re.compile(
    r"""(?<![\w.])(?:_|gettext|pgettext|ngettext)\(\s*"""
    r"""(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')(?:\s*,\s*(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'))*"""
)
STRING = re.compile(r""""((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'""")


@dataclass(frozen=True)
class Finding:
    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


def pybabel_keywords() -> str:
    """The keywords as ``pybabel extract`` options."""
    options = []
    for name, spec in KEYWORDS.items():
        parts = [f"{p[0]}c" if isinstance(p, tuple) else str(p) for p in spec]
        options.append(f"-k {name}:{','.join(parts)}")
    return " ".join(options)


def extracted_messages(root: Path = ROOT) -> Iterator[tuple[str | None, str, str]]:
    """(context, msgid, where) of every marked message in the sources and templates."""
    method_map = [("**/migrations/**", "ignore")]
    method_map += [(f"{package}/**.py", "python") for package in PACKAGES]
    method_map += [(f"{folder}/**.html", "jinja2") for folder in TEMPLATE_DIRS]
    for filename, lineno, message, _comments, context in extract_from_dir(
        str(root), method_map, keywords=KEYWORDS, comment_tags=(), strip_comment_tags=True
    ):
        msgid = message[0] if isinstance(message, tuple) else message
        if msgid:
            yield context, msgid, f"{filename}:{lineno}"


def _fields(text: str) -> set[str]:
    return {a or b for a, b in FIELD.findall(text)}


def check_catalogue(
    catalogue_path: Path, marked: Iterable[tuple[str | None, str, str]]
) -> list[Finding]:
    with catalogue_path.open("rb") as file:
        catalogue = read_po(file)
    findings = []
    for message in catalogue:
        if not message.id:
            continue
        msgid = str(message.id)
        where = f"{catalogue_path.name}: {msgid!r}"
        if not message.string:
            findings.append(Finding(where, "no Chinese translation"))
        elif message.fuzzy:
            findings.append(Finding(where, "the translation is fuzzy"))
        elif not _fields(str(message.string)) <= _fields(msgid):
            findings.append(Finding(where, "the translation has a field its msgid lacks"))
    for context, msgid, where in marked:
        if catalogue.get(msgid, context) is None:
            findings.append(Finding(where, f"{msgid!r} is not in the catalogue: make messages"))
    return findings


def _without_gettext(text: str) -> str:
    return GETTEXT_CALL.sub("_(", text)


def _visible_words(text: str) -> list[str]:
    words = [match.group(0) for match in ENGLISH_WORD.finditer(text)]
    words = [word for word in words if word not in ALLOWED_WORDS and word not in LANGUAGE_NAMES]
    chinese = CJK.findall(text)
    return words + ["".join(chinese)] if chinese else words


def check_template(path: Path, text: str) -> list[Finding]:
    """Text a reader sees in ``text`` that is not inside a gettext call."""
    findings = []
    text = re.sub(r"\{#.*?#\}", _blank, text, flags=re.S)
    text = re.sub(r"<(script|style)\b.*?</\1>", _blank, text, flags=re.S | re.I)

    def report(kind: str, piece: str, offset: int) -> None:
        words = _visible_words(piece)
        if words:
            line = text.count("\n", 0, offset) + 1
            shown = ", ".join(dict.fromkeys(words))
            findings.append(Finding(f"{path}:{line}", f"{kind} outside gettext: {shown}"))

    # Jinja: string literals printed or passed on, once gettext's own are taken out.
    for match in re.finditer(r"\{\{.*?\}\}|\{%.*?%\}", text, flags=re.S):
        block = _without_gettext(match.group(0))
        for literal in STRING.finditer(block):
            value = literal.group(1) if literal.group(1) is not None else literal.group(2)
            if CJK.search(value) and value not in LANGUAGE_NAMES:
                report("Chinese", value, match.start())
            elif match.group(0).startswith("{{") and _looks_like_prose(value):
                report("text", value, match.start())
    markup = re.sub(r"\{\{.*?\}\}|\{%.*?%\}", _blank, text, flags=re.S)
    markup = re.sub(r"<(code|pre)>.*?</\1>", _blank, markup, flags=re.S)  # codes shown as codes
    # Readable attributes, then the text between tags.
    for attribute in re.finditer(
        r"\b(" + "|".join(READABLE_ATTRIBUTES) + r")\s*=\s*\"([^\"]*)\"", markup
    ):
        report(f"the {attribute.group(1)} attribute", attribute.group(2), attribute.start())
    body = re.sub(r"<[^>]*>", lambda tag: "\n" * tag.group(0).count("\n"), markup)
    body = re.sub(r"&\w+;|&#\d+;", " ", body)
    position = 0
    for line in body.split("\n"):
        report("text", line, position)
        position = text.find("\n", position) + 1
    return findings


def _blank(match: re.Match[str]) -> str:
    """What is taken out keeps its line breaks, so findings name the right line."""
    return " " + "\n" * match.group(0).count("\n")


def _looks_like_prose(value: str) -> bool:
    """A literal a reader would read: words with a space, or one capitalised word."""
    if value in LANGUAGE_NAMES or not ENGLISH_WORD.search(value):
        return False
    if re.fullmatch(r"[\w.:/%{}\-,?=&#]*", value) and not re.fullmatch(r"[A-Z][a-z]+", value):
        return False  # a code, a format, an endpoint, a class name
    return bool(_visible_words(value))


def check_templates(root: Path = ROOT) -> list[Finding]:
    findings = []
    for folder in TEMPLATE_DIRS:
        for path in sorted((root / folder).rglob("*.html")):
            findings += check_template(path.relative_to(root), path.read_text())
    return findings


def main(argv: list[str]) -> int:
    if argv[1:] == ["--keywords"]:
        print(pybabel_keywords())
        return 0
    findings = check_catalogue(CATALOGUE, extracted_messages()) + check_templates()
    for finding in findings:
        print(finding)
    print(f"{len(findings)} findings" if findings else "words: every text goes through gettext")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
