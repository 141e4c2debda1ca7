"""Words in zh-CN and en, through one mechanism: gettext catalogues read by Flask-Babel.

Every text a person reads is an English msgid, marked where it is written (``_`` and ``pgettext``
in templates; ``N_`` in tables here; the message argument of ``ValidationFailed.field``,
``FieldMessage``, marshmallow's ``ValidationError`` and the credit file checks, which
``make messages`` extracts by keyword), and ``service/translations/zh_CN`` translates it. English
is the msgid itself, so ``en`` needs no entries. A message with parameters keeps them apart
(:class:`~service.base.exceptions.FieldMessage`) until it is shown, so the template is translated
and then filled; nothing turns English prose back into Chinese.

Error messages are keyed by the error's machine code: clients branch on the code and show the
message. ``scripts/check_words.py`` fails when a msgid lacks its Chinese or a template shows text
outside gettext.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, g, has_request_context, request
from flask_babel import Babel, get_translations, gettext, pgettext, refresh
from marshmallow import validate

from service.base.exceptions import FieldMessage
from service.base.units import SHANGHAI
from service.i18n.names import NAMES, PARAM_ENUMS
from service.i18n.serials import serials_words

LOCALES = ("zh-CN", "en")
DEFAULT_LOCALE = "zh-CN"
#: Our locale names (BCP 47, as HTTP speaks them) and the gettext catalogue of each. Babel names
#: mainland Chinese ``zh_Hans_CN`` (``Locale.parse("zh_CN")`` adds the script), and gettext looks
#: for the catalogue under that name, so the directory is ``translations/zh_Hans_CN``.
CATALOGUE_BY_LOCALE = {"zh-CN": "zh_Hans_CN", "en": "en"}
#: The catalogue of mainland Chinese: every msgid must have its translation here.
CHINESE = CATALOGUE_BY_LOCALE["zh-CN"]
TRANSLATIONS = Path(__file__).parent.parent / "translations"


def N_(message: str) -> str:  # noqa: N802 - gettext's name for "mark, translate later"
    """Mark ``message`` for extraction; it is translated where it is shown."""
    return message


#: code -> the English message, a msgid (``str.format`` fields are filled with the error's params).
MESSAGES: dict[str, str] = {
    "bad_request": N_("The request is malformed."),
    "invalid_json": N_("The request body is not valid JSON."),
    "authentication_required": N_("Sign in first: send a bearer access token."),
    "token_invalid": N_("The access token is invalid."),
    "token_expired": N_("The access token has expired; refresh it."),
    "session_revoked": N_("This sign-in session has ended; sign in again."),
    "refresh_token_invalid": N_("The refresh token is invalid or expired."),
    "refresh_token_reused": N_(
        "This refresh token was already used; every session of its family is revoked."
    ),
    "invalid_credentials": N_("The username or password is wrong."),
    "sign_in_throttled": N_("Too many failed sign-ins; try again in {retry_after_s} seconds."),
    "challenge_required": N_(
        "This name has met many failed sign-ins: solve the sign-in challenge and try again."
    ),
    "account_disabled": N_("This account is disabled."),
    "csrf_failed": N_(
        "This form expired or did not come from this site; reload the page and try again."
    ),
    "forbidden": N_("You may not do this."),
    "role_required": N_("This needs one of the roles: {roles}."),
    "organisation_suspended": N_(
        "The organisation is suspended: it can be read, but nothing can be done for it."
    ),
    "not_found": N_("Not found."),
    "method_not_allowed": N_("This method is not allowed here."),
    "conflict": N_("The request conflicts with the current state."),
    "already_exists": N_("{what} already exists."),
    "phone_taken": N_("This phone number is bound to another account."),
    "organisation_not_approved": N_(
        "The organisation is not approved: it cannot invite anyone until an operator approves it."
    ),
    "invitation_not_pending": N_("This invitation was already answered or has expired."),
    "invitations_too_many": N_(
        "The organisation has {limit} invitations waiting; wait for answers before inviting more."
    ),
    "payload_too_large": N_("The request body is larger than {limit_bytes} bytes."),
    "unsupported_media_type": N_("Send the body as application/json."),
    "validation_failed": N_("Some fields are invalid."),
    "rate_limited": N_("Too many requests; try again in {retry_after_s} seconds."),
    "internal_error": N_(
        "Something went wrong on our side; quote the request id when reporting it."
    ),
    "service_unavailable": N_("The service is temporarily unavailable."),
    "wechat_not_configured": N_("WeChat sign-in is not configured on this server."),
    "wechat_code_invalid": N_(
        "WeChat rejected the login code (errcode 40029); get a new one with wx.login."
    ),
    "wechat_code_used": N_(
        "This WeChat code was already used (errcode 40163); codes are single-use."
    ),
    "wechat_rate_limited": N_(
        "WeChat is limiting sign-ins (errcode 45011); try again in a minute."
    ),
    "wechat_high_risk_user": N_(
        "WeChat flagged this account as high risk (errcode 40226); sign-in is refused."
    ),
    "wechat_busy": N_("WeChat is busy (errcode -1); try again shortly."),
    "wechat_phone_code_invalid": N_(
        "WeChat rejected the phone code (errcode 40029); ask the user to authorise again."
    ),
    "wechat_misconfigured": N_("WeChat rejected this server's credentials (errcode {errcode})."),
    "wechat_error": N_("WeChat answered with errcode {errcode}."),
    "wechat_unavailable": N_("WeChat could not be reached."),
    "idempotency_conflict": N_(
        "This idempotency key was used for a different request ({field} differs)."
    ),
    "account_not_found": N_("No such ledger account: {detail}."),
    "account_conflict": N_("The account exists with other terms ({field})."),
    "asset_mismatch": N_("The accounts hold different assets."),
    "unbalanced": N_("The postings do not sum to zero per asset: {detail}."),
    "amount_invalid": N_("Amounts are non-zero whole numbers within the limit."),
    "entry_invalid": N_("The entry is malformed: {detail}."),
    "insufficient_funds": N_("Not enough available balance: {detail}."),
    "lot_invalid": N_("The lot cannot be used: {detail}."),
    "hold_not_found": N_("No such hold."),
    "hold_not_pending": N_("The hold is no longer pending ({detail})."),
    "hold_expired": N_("The hold expired at {detail}."),
    "hold_amount_exceeded": N_("More than the hold reserved: {detail}."),
    "entry_not_found": N_("No such entry."),
    "already_reversed": N_("The entry was already reversed."),
    "batch_too_large": N_("Too many entries in one batch."),
    "wechat_scene_invalid": N_("WeChat refused the mini-program code's scene."),
    "wechat_page_invalid": N_("The mini-program page is not published."),
    "lot_state_conflict": N_("The lot is {status}; that cannot be done now."),
    "label_not_certified": N_("The label is not certified (it is {status})."),
    "wechatpay_not_configured": N_(
        "WeChat Pay is not set up on this server; pay by bank transfer."
    ),
    "wechatpay_unavailable": N_("WeChat Pay could not be reached; try again shortly."),
    "claim_code_invalid": N_("This code cannot be claimed: it is not a genuine unit code."),
    "claim_code_revoked": N_("This code's label is not valid ({status}); it earns no points."),
    "claim_enterprise_suspended": N_(
        "The enterprise behind this product is suspended; its codes earn no points for now."
    ),
    "unit_already_claimed": N_("This unit has been claimed already."),
    "farm_shares_paid": N_(
        "The farms' shares of allocation {allocation_id} were paid ({points} points): reversing "
        "it would pay farms twice for these grams. Reverse the distribution first."
    ),
    "points_rule_missing": N_("No points rule is in force for this yet."),
    "practice_duplicate": N_("This plot already has a record of this practice for the season."),
    "practice_decided": N_("The record has been decided already ({status})."),
    "item_code_taken": N_("Another catalogue item has this code."),
    "item_unavailable": N_("This item is not available now."),
    "item_not_for_party": N_("This item is for {audience} accounts only."),
    "redemption_limit_reached": N_(
        "At most {limit} of this item per account; {ordered} ordered already."
    ),
    "points_insufficient": N_("Not enough points."),
    "out_of_stock": N_("Not enough in stock."),
    "order_state_conflict": N_("The order is {status}; that cannot be done now."),
    "payout_state_conflict": N_("The payout is {status}; that cannot be done now."),
    "payouts_none_to_export": N_("No approved payouts are waiting for this method."),
    "flag_resolved": N_("The flag has been closed already ({status})."),
    "gtin_taken": N_("Another product has this GTIN."),
    "publication_status_refused": N_("A page cannot go from {from} to {to}."),
    "label_transition_refused": N_("A label cannot go from {from} to {to}."),
    "label_benchmark_not_met": N_("The footprint does not beat the category benchmark: {detail}."),
    "label_claim_banned_in_market": N_(
        "A carbon-neutral claim based on offsetting is banned where this product is sold "
        "({markets}): Directive (EU) 2024/825 has applied in the EU since 27 September 2026. "
        "Footprint and low-carbon labels remain available."
    ),
    "credit_import_rejected": N_(
        "The credit file was not imported: {count} problems, listed by row and field."
    ),
    "credit_registry_not_found": N_("No such registry: {detail}."),
    "credit_batch_not_found": N_("No such credit batch: {detail}."),
    "credit_retirement_invalid": N_("The retirement cannot be recorded: {detail}."),
    "credit_retirement_not_found": N_("No such retirement: {detail}."),
    "credits_insufficient": N_("Not enough credits: {detail}."),
    "credit_allocation_invalid": N_("The allocation cannot be made: {detail}."),
    "credit_finding_not_found": N_("No such finding: {detail}."),
    "credit_finding_resolved": N_("The finding is already resolved: {detail}."),
    "credit_registry_refused": N_("The registry refused the retirement: {detail}."),
    "credit_registry_unavailable": N_(
        "The registry did not answer; ask again later with the same reference."
    ),
    "credit_registry_not_configured": N_("No registry is set up on this server: {detail}."),
    "log_tree_size_invalid": N_("The log has signed no tree of that size: {detail}."),
    "log_leaf_not_found": N_("The log holds no such leaf: {detail}."),
    "organisation_invalid": N_("The organisation does not fit its kind: {reason}"),
}

#: What a form calls the fields an error can name (unknown fields show by their key).
FIELD_LABELS: dict[str, str] = {
    "units": N_("Units"),
    "name": N_("Name"),
    "name_zh": N_("Chinese name"),
    "name_en": N_("English name"),
    "category": N_("Category"),
    "gtin": N_("GTIN"),
    "net_content_g": N_("Net content (grams)"),
    "declared_unit": N_("Declared unit"),
    "lot_number": N_("Lot number"),
    "label_id": N_("Certified label"),
    "footprint_id": N_("Footprint"),
    "scheme": N_("Scheme"),
    "markets": N_("Markets"),
    "username": N_("Username"),
    "password": N_("Password"),
    "code": N_("Code"),
    "kind": N_("Kind"),
    "status": N_("Status"),
    "description": N_("Description"),
    "stock": N_("Stock"),
    "note": N_("Note"),
    "purpose": N_("Purpose"),
    "beneficiary": N_("Beneficiary"),
    "audience": N_("Audience"),
    "event_type": N_("Event"),
    "organisation_id": N_("Enterprise"),
    "price_points": N_("Points each"),
    "per_party_limit": N_("Limit per party"),
    "reason": N_("Reason"),
    "registry_code": N_("Registry code"),
    "registry_reference": N_("Registry reference"),
    "retired_on": N_("Retired on"),
    "reference": N_("Bank reference"),
    "amount_yuan": N_("Amount received (CNY)"),
    "slug": N_("Address"),
    "title_zh": N_("Chinese title"),
    "title_en": N_("English title"),
    "body_en": N_("English text"),
    "points": N_("Points"),
    "quantity": N_("Quantity"),
    "file": N_("File"),
    "valid_until": N_("Valid until"),
    "validity_days": N_("Days the points stay valid"),
}

#: The messages marshmallow itself gives for the field types and validators the service uses,
#: marked here so the catalogue translates them. Validators with parameters give a
#: ``FieldMessage`` (see :func:`_install_validator_messages`), so these are templates.
MARSHMALLOW_MESSAGES = (
    N_("Missing data for required field."),
    N_("Field may not be null."),
    N_("Unknown field."),
    N_("Invalid value."),
    N_("Invalid input."),
    N_("Invalid input type."),
    N_("Invalid type."),
    N_("Not a valid string."),
    N_("Not a valid utf-8 string."),
    N_("Not a valid integer."),
    N_("Not a valid number."),
    N_("Number too large."),
    N_("Special numeric values (nan or infinity) are not permitted."),
    N_("Not a valid boolean."),
    N_("Not a valid email address."),
    N_("Not a valid datetime."),
    N_("Not a valid date."),
    N_("Not a valid time."),
    N_("Not a valid naive datetime."),
    N_("Not a valid aware datetime."),
    N_("Not a valid period of time."),
    N_("Not a valid list."),
    N_("Not a valid tuple."),
    N_("Not a valid mapping type."),
    N_("Not a valid URL."),
    N_("Not a valid UUID."),
    N_("String does not match expected pattern."),
    N_("Shorter than minimum length {min}."),
    N_("Longer than maximum length {max}."),
    N_("Length must be between {min} and {max}."),
    N_("Length must be {equal}."),
    N_("Must be greater than or equal to {min}."),
    N_("Must be greater than {min}."),
    N_("Must be less than or equal to {max}."),
    N_("Must be less than {max}."),
    N_("Must be greater than or equal to {min} and less than or equal to {max}."),
    N_("Must be greater than {min} and less than or equal to {max}."),
    N_("Must be greater than or equal to {min} and less than {max}."),
    N_("Must be greater than {min} and less than {max}."),
    N_("Must be one of: {choices}."),
    N_("Must be equal to {other}."),
    # webargs and our request parsing
    N_("Invalid JSON body."),
)


def negotiate_locale(accept_language: object | None) -> str:
    """Pick zh-CN or en from a werkzeug ``LanguageAccept``; zh-CN when nothing matches."""
    if accept_language is None:
        return DEFAULT_LOCALE
    best = accept_language.best_match(["zh-CN", "zh", "en"])  # type: ignore[attr-defined]
    if best is None:
        return DEFAULT_LOCALE
    return "en" if best.startswith("en") else "zh-CN"


def request_locale() -> str:
    """The locale of this request: what a page or the API chose (``g.lang``), else what the
    client's ``Accept-Language`` asks for; zh-CN outside a request."""
    if not has_request_context():
        return DEFAULT_LOCALE
    return g.get("lang") or negotiate_locale(
        request.accept_languages if request.headers.get("Accept-Language") else None
    )


def use_locale(locale: str) -> None:
    """Speak ``locale`` for the rest of this request (a page's pick, made after gettext may have
    been asked already)."""
    g.lang = locale
    refresh()


def _filled(template: str, params: Mapping[str, object] | None) -> str:
    """``template`` filled with ``params``; a text parameter that is itself a msgid (a field's
    noun, a reason) is translated too."""
    if not params:
        return template
    shown = {
        name: field_message(value) if isinstance(value, str) and value else value
        for name, value in params.items()
    }
    try:
        return template.format(**shown)
    except (KeyError, IndexError, ValueError):
        return template


def error_message(code: str, params: Mapping[str, object] | None = None) -> str:
    """The message of error ``code`` in this request's language, filled with ``params`` (an
    enum's value by its name)."""
    template = MESSAGES.get(code) or MESSAGES["internal_error"]
    shown = dict(params or {})
    for name, enum in PARAM_ENUMS.get(code, {}).items():
        if name in shown:
            shown[name] = display_name(shown[name], enum)
    return _filled(gettext(template), shown)


def field_message(message: str) -> str:
    """One field message in this request's language: its template translated, then filled."""
    template = getattr(message, "template", message)
    params = getattr(message, "params", None)
    translated = gettext(template)
    if translated == template and not params:
        return message
    return _filled(translated, params)


def display_name(value: object, enum: str) -> str:
    """The name of ``value`` of ``enum`` (a table in ``service.i18n.names``) in this request's
    language; a value the table lacks shows as it is."""
    names = NAMES[enum]
    if value not in names:
        return "" if value is None else str(value)
    return pgettext(enum, names[value])  # type: ignore[index]


def beijing_time(moment: datetime | None, *, seconds: bool = False) -> str:
    """``moment`` on the wall clock of Beijing, labelled as such: "2026-11-25 14:03 北京时间".
    Times are stored in UTC; a naive one is taken as UTC."""
    if moment is None:
        return "—"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(SHANGHAI)
    text = local.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    label = gettext("Beijing time")
    return f"{text} {label}"


def beijing_date(moment: date | None) -> str:
    """The day of ``moment`` in Beijing (a ``date`` is already a day)."""
    if moment is None:
        return "—"
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        moment = moment.astimezone(SHANGHAI).date()
    return moment.isoformat()


def localised(zh_text: str | None, en_text: str | None) -> str:
    """Content kept in both languages (a product's or a page's own name and text, not a word of
    ours): the one of this request's language, else the other."""
    if request_locale() == "en":
        return en_text or zh_text or ""
    return zh_text or en_text or ""


def field_label(name: str) -> str:
    """What a form calls field ``name``, in this request's language; else its key."""
    label = FIELD_LABELS.get(name)
    return gettext(label) if label else name


def translated(msgid: str, locale: str = CHINESE, *, context: str | None = None) -> bool:
    """Whether the ``locale`` catalogue translates ``msgid`` (for tests and the words check)."""
    return msgid in _catalogue_msgids(locale, context)


_MSGIDS: dict[tuple[str, str | None], frozenset[str]] = {}


def _catalogue_msgids(locale: str, context: str | None) -> frozenset[str]:
    key = (locale, context)
    if key not in _MSGIDS:
        path = TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"
        with path.open("rb") as file:
            catalogue = read_po(file)
        _MSGIDS[key] = frozenset(
            str(message.id)
            for message in catalogue
            if message.id and message.string and message.context == context
        )
    return _MSGIDS[key]


def _template_of(
    validator: type[validate.Validator], params: Callable[[Any, Any], dict[str, object]]
) -> None:
    """Make ``validator`` give a ``FieldMessage``: its template (a msgid) and its parameters."""

    def format_error(self: Any, value: Any, message: str | None = None) -> str:
        template = self.error or message
        return FieldMessage(str(template), **params(self, value))

    validator._format_error = format_error  # type: ignore[attr-defined]


def _install_validator_messages() -> None:
    """marshmallow fills its validators' messages in English; these keep the template apart."""
    _template_of(
        validate.Length,
        lambda self, value: {"min": self.min, "max": self.max, "equal": self.equal},
    )
    _template_of(validate.Range, lambda self, value: {"min": self.min, "max": self.max})
    _template_of(
        validate.OneOf,
        lambda self, value: {"choices": self.choices_text, "labels": self.labels_text},
    )
    _template_of(validate.Equal, lambda self, value: {"other": self.comparable})


def compile_catalogues() -> None:
    """Compile each catalogue whose ``.mo`` is missing or older than its ``.po``: ``make
    install`` builds them, and this keeps a checkout whose catalogue just changed from reading a
    stale one."""
    for po in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as file:
            catalogue = read_po(file)
        with mo.open("wb") as file:
            write_mo(file, catalogue)


def init_app(app: Flask) -> None:
    """Flask-Babel over the catalogues in ``service/translations``; times in Beijing time; the
    filters that name enums and show times on pages."""
    compile_catalogues()
    _install_validator_messages()
    Babel(
        app,
        locale_selector=lambda: CATALOGUE_BY_LOCALE[request_locale()],
        default_locale=CATALOGUE_BY_LOCALE[DEFAULT_LOCALE],
        default_timezone="Asia/Shanghai",
    )
    app.jinja_env.filters.update(
        name=display_name,
        beijing_time=beijing_time,
        beijing_date=beijing_date,
        serials=lambda part: serials_words(part, get_translations()),
    )
    app.jinja_env.globals.update(
        localised=localised, field_message=field_message, field_label=field_label
    )
