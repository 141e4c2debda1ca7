"""Words: one gettext mechanism, checked.

The words check (``scripts/check_words.py``) passes on the tree and fails on a catalogue entry
without Chinese and on a template with text outside gettext; every enum a person sees has a name
in both languages; field messages with parameters are translated from their template; times show
on Beijing's clock, labelled.
"""

from __future__ import annotations

import importlib.util
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from marshmallow import Schema, fields, validate

from labels.markets import MARKETS
from labels.models import (
    BOUNDARIES,
    DECLARED_UNITS,
    LABEL_STATUSES,
    LOT_RETIREMENT_STATUSES,
    LOT_STATUSES,
)
from points.models import (
    FLAG_KINDS,
    FLAG_STATUSES,
    FORMULA_KINDS,
    ITEM_KINDS,
    ORDER_STATUSES,
    PAYOUT_METHODS,
    PAYOUT_STATUSES,
    PRACTICE_STATUSES,
    PRACTICES,
)
from service.base.exceptions import FieldMessage, ValidationFailed
from service.base.parties.models import ORGANISATION_KINDS, ORGANISATION_STATUSES, ROLES
from service.i18n import (
    MARSHMALLOW_MESSAGES,
    MESSAGES,
    beijing_date,
    beijing_time,
    display_name,
    error_message,
    field_message,
    translated,
)
from service.i18n.names import NAMES, PARAM_ENUMS

ROOT = Path(__file__).resolve().parents[2]


def _check_words():
    spec = importlib.util.spec_from_file_location("check_words", ROOT / "scripts/check_words.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_words"] = module
    spec.loader.exec_module(module)
    return module


check_words = _check_words()

CATALOGUE_HEAD = """msgid ""
msgstr ""
"Content-Type: text/plain; charset=utf-8\\n"

"""


def write_catalogue(tmp_path, entries: str) -> Path:
    path = tmp_path / "messages.po"
    path.write_text(CATALOGUE_HEAD + entries, encoding="utf-8")
    return path


# -- the check ------------------------------------------------------------------------------------
def test_the_tree_passes_the_words_check():
    """Every marked msgid has its Chinese and every template speaks through gettext."""
    findings = (
        check_words.check_catalogue(check_words.CATALOGUE, check_words.extracted_messages())
        + check_words.check_templates()
    )
    assert findings == []


def test_a_msgid_without_chinese_fails(tmp_path):
    catalogue = write_catalogue(
        tmp_path,
        'msgid "Saved."\nmsgstr "已保存。"\n\nmsgid "Cancelled."\nmsgstr ""\n',
    )
    findings = check_words.check_catalogue(catalogue, [])
    assert [finding.what for finding in findings] == ["no Chinese translation"]
    assert "Cancelled." in findings[0].where


def test_a_fuzzy_translation_or_an_invented_field_fails(tmp_path):
    catalogue = write_catalogue(
        tmp_path,
        '#, fuzzy\nmsgid "Saved."\nmsgstr "已保存。"\n\n'
        'msgid "At least {n}."\nmsgstr "至少为 {count}。"\n',
    )
    whats = sorted(finding.what for finding in check_words.check_catalogue(catalogue, []))
    assert whats == ["the translation has a field its msgid lacks", "the translation is fuzzy"]


def test_a_marked_msgid_missing_from_the_catalogue_fails(tmp_path):
    catalogue = write_catalogue(tmp_path, 'msgid "Saved."\nmsgstr "已保存。"\n')
    marked = [(None, "Saved.", "a.py:1"), (None, "Brand new.", "a.py:2"), ("lot_status", "x", "")]
    findings = check_words.check_catalogue(catalogue, marked)
    assert [finding.where for finding in findings] == ["a.py:2", ""]


@pytest.mark.parametrize(
    "template",
    [
        "<h1>Lots</h1>",
        "<h1>批次</h1>",
        '<input placeholder="Search by name">',
        '<p>{{ "待付款" if lot.status == "reserved" else "" }}</p>',
        '<p>{{ "Nothing yet." }}</p>',
        '<p>{{ _("Lots") }} and more</p>',
    ],
)
def test_a_template_with_text_outside_gettext_fails(template):
    findings = check_words.check_template(Path("bad.html"), template)
    assert findings, template


@pytest.mark.parametrize(
    "template",
    [
        '<h1>{{ _("Lots") }}</h1>',
        '<td>{{ pgettext("lot number", "Lot") }}</td>',
        '<input placeholder="{{ _("Search by name") }}">',
        '<td>{{ "{:,}".format(lot.units) }} g CO2e</td>',
        '<a href="{{ url_for(\'portal.home\') }}">{{ lot.status | name("lot_status") }}</a>',
        "<code>tanhui log verify</code>",
        '{{ "English" if lang == "zh-CN" else "中文" }}',
    ],
)
def test_a_template_speaking_through_gettext_passes(template):
    assert check_words.check_template(Path("good.html"), template) == []


# -- enums ----------------------------------------------------------------------------------------
ENUMS = {
    "label_status": LABEL_STATUSES,
    "market": MARKETS,
    "footprint_boundary": BOUNDARIES,
    "declared_unit": DECLARED_UNITS,
    "lot_status": LOT_STATUSES,
    "lot_retirement_status": LOT_RETIREMENT_STATUSES,
    "order_status": ORDER_STATUSES,
    "payout_status": PAYOUT_STATUSES,
    "payout_method": PAYOUT_METHODS,
    "item_kind": ITEM_KINDS,
    "points_formula": FORMULA_KINDS,
    "practice": PRACTICES,
    "practice_status": PRACTICE_STATUSES,
    "flag_kind": FLAG_KINDS,
    "flag_status": FLAG_STATUSES,
    "organisation_kind": ORGANISATION_KINDS,
    "organisation_status": ORGANISATION_STATUSES,
    "role": ROLES,
}


@pytest.mark.parametrize("enum", sorted(ENUMS))
def test_each_enum_table_names_every_value(enum):
    assert set(NAMES[enum]) == set(ENUMS[enum])


def test_every_name_has_its_chinese():
    for enum, names in NAMES.items():
        for value, name in names.items():
            assert translated(name, context=enum), (enum, value)
    for enums in PARAM_ENUMS.values():
        assert set(enums.values()) <= set(NAMES)


def test_names_follow_the_language(app):
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        assert display_name("under_review", "label_status") == "审核中"
        assert display_name("cradle_to_gate", "footprint_boundary") == "从摇篮到大门"
        assert display_name("paddy_ch4", "footprint_stage") == "稻田甲烷"
        assert display_name("carbon_neutral", "label_scheme") == "碳中和标签"
        assert display_name("offline", "payment_provider") == "银行转账"
        # One English word, two meanings: the enum is the context.
        assert display_name("reserved", "lot_status") == "待付款"
        assert display_name("reserved", "order_status") != "待付款"
        assert display_name("something_new", "lot_status") == "something_new"
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert display_name("under_review", "label_status") == "under review"
        assert display_name("reserved", "lot_status") == "awaiting payment"


def test_an_error_names_the_status_it_carries(app):
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        message = error_message("lot_state_conflict", {"status": "reserved"})
    assert message == "该批次当前状态为 待付款，无法执行此操作。"


# -- messages -------------------------------------------------------------------------------------
def test_every_error_and_marshmallow_message_has_its_chinese():
    assert all(translated(message) for message in MESSAGES.values())
    assert all(translated(message) for message in MARSHMALLOW_MESSAGES)


def test_a_field_message_is_translated_from_its_template_then_filled(app):
    message = FieldMessage("Must be a multiple of {step}.", step=100)
    assert message == "Must be a multiple of 100."  # it reads as its English text
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        assert field_message(message) == "须为 100 的整数倍。"
        assert field_message("Not a valid integer.") == "不是有效的整数。"
        assert field_message("Some text no one marked.") == "Some text no one marked."
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert field_message(message) == "Must be a multiple of 100."


def test_marshmallow_validators_keep_their_templates(app):
    class Quantity(Schema):
        count = fields.Integer(validate=validate.Range(min=1, max=9))
        code = fields.String(validate=validate.Length(max=3))
        kind = fields.String(validate=validate.OneOf(["goods", "voucher"]))

    errors = Quantity().validate({"count": 10, "code": "abcd", "kind": "cash"})
    assert errors["count"] == ["Must be greater than or equal to 1 and less than or equal to 9."]
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        shown = {name: field_message(messages[0]) for name, messages in errors.items()}
    assert shown == {
        "count": "须大于等于 1 且小于等于 9。",
        "code": "长度不能超过 3。",
        "kind": "须为以下之一：goods, voucher。",
    }


def test_a_field_message_keeps_its_parameters_through_an_error():
    error = ValidationFailed.field("points", FieldMessage("At least {n}.", n=5))
    (message,) = error.fields["points"]
    assert (message, message.template, message.params) == ("At least 5.", "At least {n}.", {"n": 5})


def test_the_api_answers_field_errors_in_chinese(client):
    response = client.post(
        "/api/v1/auth/password", json={"username": 7}, headers={"Accept-Language": "zh-CN"}
    )
    messages = {row["field"]: row["message"] for row in response.get_json()["fields"]}
    assert messages == {"username": "不是有效的字符串。", "password": "缺少必填字段。"}


# -- times ----------------------------------------------------------------------------------------
def test_times_show_on_beijing_clock_labelled(app):
    moment = datetime(2026, 11, 25, 6, 3, 9, tzinfo=UTC)
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        assert beijing_time(moment) == "2026-11-25 14:03 北京时间"
        assert (
            beijing_time(moment.replace(tzinfo=None), seconds=True)
            == "2026-11-25 14:03:09 北京时间"
        )
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert beijing_time(moment) == "2026-11-25 14:03 Beijing time"
    assert beijing_time(None) == "—"


def test_a_day_is_the_day_in_beijing():
    assert beijing_date(datetime(2026, 11, 25, 17, 0, tzinfo=UTC)) == "2026-11-26"
    assert beijing_date(date(2026, 11, 25)) == "2026-11-25"
