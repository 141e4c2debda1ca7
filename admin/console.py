"""The console at ``/admin`` for operators, certifiers and auditors.

Each page is a thin view: it reads through selectors or the domain modules, and each form calls
one service function through ``admin.web.form_action``; the request layer commits once. The
rules stay where the API finds them: a certifier's decision here is ``label_transition`` as it
is over the API.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from flask import current_app, redirect, render_template, request, url_for
from flask import session as cookie
from werkzeug.wrappers import Response

from admin import publications as publishing
from admin.models import (
    BODY_MAX_CHARS,
    PUBLICATION_KINDS,
    SLUG_MAX_CHARS,
    TITLE_MAX_CHARS,
    Publication,
)
from admin.web import (
    choice,
    form_action,
    form_text,
    page_principal,
    page_requires,
    paged,
    pages_blueprint,
    safe_next,
    search_text,
    sign_in_remember,
    signed_in,
    t,
)
from labels import certification, lots
from labels.models import (
    LABEL_STATUSES,
    LOT_STATUSES,
    Footprint,
    Label,
    LabelLot,
    LabelTransition,
    Product,
    UnitScan,
)
from ledger import credits
from ledger.credits.models import CreditBatch, CreditImport, CreditProject
from ledger.errors import CreditError
from ledger.models import Account, Entry, Posting
from ledger.tlog import log_verify
from ledger.verify import ledger_verify
from points.flags import flag_resolve, flags_query
from points.models import FLAG_STATUSES
from service.auth.services import browser_session_open, password_check, session_revoke
from service.base.exceptions import NotFound, ValidationFailed
from service.base.parties.models import ORGANISATION_KINDS, ORGANISATION_STATUSES, Organisation
from service.base.parties.services import organisation_set_status
from service.cli import log_signer
from service.db import get_session, utcnow
from service.errors import status_of
from service.extensions import rate_limited

blp = pages_blueprint("console", "/admin", console=True)
STAFF_ROLES = ("operator", "certifier", "auditor")
#: The kinds an operator approves (the platform is always approved).
PARTY_KINDS = tuple(kind for kind in ORGANISATION_KINDS if kind != "platform")
REASON_MAX_CHARS = 500


# -- signing in -----------------------------------------------------------------------------------
@blp.route("/login", methods=["GET", "POST"])
@rate_limited("RATELIMIT_SIGN_IN")
def sign_in() -> Response | str:
    target = safe_next(request.values.get("next"), url_for("console.home"))
    if request.method == "GET":
        if page_principal() is not None:
            return redirect(target)
        return render_template("console/login.html", target=target)
    config = current_app.config

    def work() -> None:
        session = get_session()
        user = password_check(
            session,
            username=form_text("username", limit=64),
            password=request.form.get("password", ""),
            now=utcnow(),
            max_failures=config["PASSWORD_MAX_FAILURES"],
            lockout_s=config["PASSWORD_LOCKOUT_S"],
        )
        lifetime_s = int(config["PERMANENT_SESSION_LIFETIME"].total_seconds())
        session_id = browser_session_open(session, user=user, now=utcnow(), ttl_s=lifetime_s)
        sign_in_remember(session_id, user.id)

    back = url_for("console.sign_in", next=target)
    return form_action(work, done=target, back=back, message=t("已登录。", "Signed in."))


@blp.post("/logout")
def sign_out() -> Response:
    principal = page_principal()
    if principal is not None and principal.session_id:
        session_revoke(get_session(), session_id=principal.session_id, reason="signed_out",
                       now=utcnow())  # fmt: skip
    cookie.clear()
    return redirect(safe_next(request.form.get("next"), url_for("console.sign_in")), code=303)


@blp.get("/")
@page_requires()
def home() -> Response | str:
    principal = signed_in()
    if not principal.has_any_role(STAFF_ROLES) and principal.organisation_ids("enterprise_staff"):
        return redirect(url_for("desk.home"))
    session = get_session()
    counts = {
        "organisations_pending": session.scalar(
            sa.select(sa.func.count()).select_from(Organisation)
            .where(Organisation.status == "pending")
        ),
        "lots_unpaid": session.scalar(
            sa.select(sa.func.count()).select_from(LabelLot).where(LabelLot.status == "reserved")
        ),
        "labels_waiting": session.scalar(
            sa.select(sa.func.count()).select_from(Label)
            .where(Label.status.in_(("submitted", "under_review")))
        ),
    }  # fmt: skip
    return render_template("console/home.html", counts=counts)


# -- organisations --------------------------------------------------------------------------------
@blp.get("/organisations")
@page_requires("operator", "auditor")
def organisations() -> str:
    status = choice("status", ORGANISATION_STATUSES)
    kind = choice("kind", PARTY_KINDS)
    query = search_text()
    statement = (
        sa.select(Organisation)
        .where(Organisation.kind != "platform")
        .order_by(Organisation.id.desc())
    )
    if status:
        statement = statement.where(Organisation.status == status)
    if kind:
        statement = statement.where(Organisation.kind == kind)
    if query:
        statement = statement.where(Organisation.name.contains(query, autoescape=True))
    return render_template(
        "console/organisations.html",
        page=paged(statement),
        status=status,
        kind=kind,
        query=query,
        statuses=ORGANISATION_STATUSES,
        kinds=PARTY_KINDS,
    )


@blp.post("/organisations/<id:organisation_id>/status")
@page_requires("operator")
def organisation_status(organisation_id: int) -> Response:
    session = get_session()
    organisation = session.get(Organisation, organisation_id)
    if organisation is None:
        raise NotFound()
    status = request.form.get("status")
    if status not in ("approved", "suspended"):
        raise ValidationFailed.field("status", "Must be one of: approved, suspended.")
    principal = signed_in()
    back = safe_next(request.form.get("back"), url_for("console.organisations"))
    return form_action(
        lambda: organisation_set_status(
            session, organisation=organisation, status=status, operator_id=principal.user_id,
            now=utcnow(),
        ),
        done=back,
        back=back,
        message=t(f"“{organisation.name}”已{'批准' if status == 'approved' else '暂停'}。",
                  f"{organisation.name} is now {status}."),
    )  # fmt: skip


# -- label applications ---------------------------------------------------------------------------
@blp.get("/labels")
@page_requires("certifier", "operator", "auditor")
def labels() -> str:
    status = choice("status", LABEL_STATUSES)
    query = search_text()
    statement = (
        sa.select(Label, Product, Organisation)
        .join(Product, Product.id == Label.product_id)
        .join(Organisation, Organisation.id == Product.organisation_id)
        .order_by(Label.id.desc())
    )
    if status:
        statement = statement.where(Label.status == status)
    if query:
        statement = statement.where(
            sa.or_(Product.name.contains(query, autoescape=True),
                   Product.gtin.contains(query, autoescape=True),
                   Organisation.name.contains(query, autoescape=True))
        )  # fmt: skip
    return render_template(
        "console/labels.html",
        page=paged(statement, scalars=False),
        status=status,
        query=query,
        statuses=LABEL_STATUSES,
    )


@blp.get("/labels/<id:label_id>")
@page_requires("certifier", "operator", "auditor")
def label(label_id: int) -> str:
    session = get_session()
    found = session.execute(
        sa.select(Label, Product, Organisation, Footprint)
        .join(Product, Product.id == Label.product_id)
        .join(Organisation, Organisation.id == Product.organisation_id)
        .join(Footprint, Footprint.id == Label.footprint_id)
        .where(Label.id == label_id)
    ).first()
    if found is None:
        raise NotFound()
    record, product, organisation, footprint = found
    transitions = session.scalars(
        sa.select(LabelTransition).where(LabelTransition.label_id == record.id)
        .order_by(LabelTransition.id)
    ).all()  # fmt: skip
    moves = [to for (frm, to), role in certification.TRANSITIONS.items()
             if frm == record.status and role is not None]  # fmt: skip
    return render_template(
        "console/label.html",
        label=record,
        product=product,
        organisation=organisation,
        footprint=footprint,
        transitions=transitions,
        moves=moves,
        reason_required=certification.REASON_REQUIRED,
    )


@blp.post("/labels/<id:label_id>/transitions")
@page_requires("certifier")
def label_decide(label_id: int) -> Response:
    session = get_session()
    record = session.get(Label, label_id)
    if record is None:
        raise NotFound()
    to_status = request.form.get("to_status", "")
    back = url_for("console.label", label_id=label_id)

    def work() -> None:
        valid_until = None
        if request.form.get("valid_until"):
            try:
                valid_until = date.fromisoformat(request.form["valid_until"])
            except ValueError:
                raise ValidationFailed.field("valid_until", "Not a valid date.") from None
        certification.label_transition(
            session, label=record, to_status=to_status, actor=page_principal(), now=utcnow(),
            reason=form_text("reason", limit=REASON_MAX_CHARS, required=False),
            valid_until=valid_until,
        )  # fmt: skip

    return form_action(work, done=back, back=back,
                       message=t("决定已记录。", "The decision is recorded."))  # fmt: skip


# -- policies and announcements -------------------------------------------------------------------
@blp.get("/publications")
@page_requires("operator")
def publications() -> str:
    statement = sa.select(Publication).order_by(Publication.id.desc())
    kind = choice("kind", PUBLICATION_KINDS)
    if kind:
        statement = statement.where(Publication.kind == kind)
    return render_template(
        "console/publications.html", page=paged(statement), kind=kind, kinds=PUBLICATION_KINDS
    )


@blp.post("/publications")
@page_requires("operator")
def publication_create() -> Response:
    principal = signed_in()
    back = url_for("console.publications")

    def work() -> None:
        publishing.publication_create(
            get_session(),
            kind=request.form.get("kind", ""),
            slug=form_text("slug", limit=SLUG_MAX_CHARS),
            title_zh=form_text("title_zh", limit=TITLE_MAX_CHARS),
            title_en=form_text("title_en", limit=TITLE_MAX_CHARS),
            body_zh=form_text("body_zh", limit=BODY_MAX_CHARS),
            body_en=form_text("body_en", limit=BODY_MAX_CHARS),
            publish=request.form.get("publish") == "1",
            user_id=principal.user_id,
            now=utcnow(),
        )

    return form_action(work, done=back, back=back, message=t("已保存。", "Saved."))


@blp.post("/publications/<id:publication_id>/status")
@page_requires("operator")
def publication_status(publication_id: int) -> Response:
    session = get_session()
    publication = session.get(Publication, publication_id)
    if publication is None:
        raise NotFound()
    back = url_for("console.publications")
    return form_action(
        lambda: publishing.publication_set_status(
            session, publication=publication, status=request.form.get("status", ""), now=utcnow()
        ),
        done=back,
        back=back,
        message=t("状态已更新。", "Status updated."),
    )


# -- anomalies ------------------------------------------------------------------------------------


@blp.get("/anomalies")
@page_requires("operator", "auditor")
def anomalies() -> str:
    """Suspicious codes (scanned too often, or from provinces far apart) and suspicious claims
    (the points flags)."""
    view = choice("view", ("codes", "claims")) or "codes"
    config = current_app.config
    if view == "codes":
        postgresql = get_session().get_bind().dialect.name == "postgresql"
        length = sa.func.jsonb_array_length if postgresql else sa.func.json_array_length
        provinces = length(UnitScan.provinces)
        statement = (
            sa.select(UnitScan, LabelLot, Product)
            .join(LabelLot, LabelLot.id == UnitScan.lot_id)
            .join(Product, Product.id == LabelLot.product_id)
            .where(sa.or_(UnitScan.scan_count > config["RESOLVER_SCAN_WARNING_COUNT"],
                          provinces > 1))
            .order_by(UnitScan.last_scan_at.desc(), UnitScan.id.desc())
        )  # fmt: skip
        page = paged(statement, scalars=False)
        return render_template(
            "console/anomalies.html",
            view=view,
            page=page,
            warning_count=config["RESOLVER_SCAN_WARNING_COUNT"],
        )
    status = choice("status", FLAG_STATUSES)
    return render_template("console/anomalies.html", view=view, page=paged(flags_query(status)),
                  status=status, statuses=FLAG_STATUSES)  # fmt: skip


@blp.post("/anomalies/flags/<id:flag_id>")
@page_requires("operator")
def flag_close(flag_id: int) -> Response:
    principal = signed_in()
    back = url_for("console.anomalies", view="claims")
    return form_action(
        lambda: flag_resolve(
            get_session(), flag_id=flag_id, status=request.form.get("status", ""),
            note=form_text("note", limit=REASON_MAX_CHARS, required=False),
            user_id=principal.user_id, now=utcnow(),
        ),
        done=back, back=back, message=t("已处理。", "Closed."),
    )  # fmt: skip


# -- audit ----------------------------------------------------------------------------------------
ENTRY_KIND_MAX_CHARS = 32


@blp.route("/audit", methods=["GET", "POST"])
@page_requires("auditor", "operator")
def audit() -> str:
    """The ledger and log verification (run on request: it reads everything) and a search of
    ledger entries by key, kind or account."""
    session = get_session()
    report = log_problems = None
    if request.method == "POST":
        verifier = log_signer().verifier()
        origin = current_app.config["TLOG_ORIGIN"]
        report = ledger_verify(session, verifier=verifier, origin=origin)
        log_problems = log_verify(session, verifier=verifier, origin=origin)
    key, account = search_text(), request.args.get("account", "").strip()[:128]
    kind = request.args.get("kind", "").strip()[:ENTRY_KIND_MAX_CHARS]
    statement = sa.select(Entry).order_by(Entry.id.desc())
    if key:
        statement = statement.where(Entry.idempotency_key.contains(key, autoescape=True))
    if kind:
        statement = statement.where(Entry.kind == kind)
    if account:
        statement = statement.where(
            Entry.id.in_(
                sa.select(Posting.entry_id)
                .join(Account, Account.id == Posting.account_id)
                .where(Account.code == account)
            )
        )
    page = paged(statement)
    postings: dict[int, list] = {}
    if page.rows:
        for posting, code in session.execute(
            sa.select(Posting, Account.code)
            .join(Account, Account.id == Posting.account_id)
            .where(Posting.entry_id.in_([entry.id for entry in page.rows]))
            .order_by(Posting.id)
        ):
            postings.setdefault(posting.entry_id, []).append((code, posting.asset, posting.amount))
    kinds = session.scalars(sa.select(Entry.kind).distinct().order_by(Entry.kind)).all()
    return render_template(
        "console/audit.html",
        report=report,
        log_problems=log_problems,
        page=page,
        postings=postings,
        key=key,
        kind=kind,
        account=account,
        kinds=kinds,
    )


# -- credits --------------------------------------------------------------------------------------
IMPORT_FORMATS = ("json", "csv")
RETIREMENT_LINES_MAX = 20
TEXT_FIELD_MAX_CHARS = 200


@blp.route("/credits", methods=["GET", "POST"])
@page_requires("operator")
def credits_import() -> tuple[str, int] | str:
    """Upload a registry file: every batch of it imported, or nothing and every bad row and
    field listed (the row report)."""
    session = get_session()
    result = problems = None
    status = 200
    if request.method == "POST":
        upload = request.files.get("file")
        name = (upload.filename or "") if upload else ""
        file_format = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        if upload is None or not name:
            raise ValidationFailed.field("file", "Missing data for required field.")
        if file_format not in IMPORT_FORMATS:
            raise ValidationFailed.field("file", "A .json or .csv file of the registry format.")
        principal = signed_in()
        try:
            result = credits.import_file(
                session, content=upload.read(), file_format=file_format, filename=name[:255],
                imported_by=principal.user_id, now=utcnow(),
            )  # fmt: skip
        except CreditError as error:
            session.rollback()
            problems, status = error.problems or [], status_of(error)
    imports = session.scalars(sa.select(CreditImport).order_by(CreditImport.id.desc()).limit(10))
    batches = paged(
        sa.select(CreditBatch, CreditProject)
        .join(CreditProject, CreditProject.id == CreditBatch.project_id)
        .order_by(CreditBatch.id.desc()),
        scalars=False,
    )
    body = render_template("console/credits.html", result=result, problems=problems,
                  imports=list(imports), page=batches)  # fmt: skip
    return (body, status) if status != 200 else body


@blp.post("/credits/retirements")
@page_requires("operator")
def retirement_record() -> Response:
    """Record a retirement the registry made: a batch and whole tonnes per line."""
    principal = signed_in()
    back = url_for("console.credits_import")

    def work() -> None:
        lines = []
        for number in range(RETIREMENT_LINES_MAX):
            batch, tonnes = (request.form.get(f"batch_{number}", "").strip(),
                             request.form.get(f"quantity_t_{number}", "").strip())  # fmt: skip
            if not batch and not tonnes:
                continue
            if not (batch.isdigit() and tonnes.isdigit() and int(tonnes) > 0):
                raise ValidationFailed.field(f"lines.{number}", "A batch and whole tonnes.")
            lines.append(credits.RetirementLine(int(batch), int(tonnes)))
        if not lines:
            raise ValidationFailed.field("lines", "Missing data for required field.")
        try:
            retired_on = date.fromisoformat(request.form.get("retired_on", ""))
        except ValueError:
            raise ValidationFailed.field("retired_on", "Not a valid date.") from None
        credits.retire(
            get_session(),
            registry_code=form_text("registry_code", limit=32),
            registry_reference=form_text("registry_reference", limit=128),
            beneficiary=form_text("beneficiary", limit=TEXT_FIELD_MAX_CHARS),
            purpose=form_text("purpose", limit=500),
            retired_on=retired_on, lines=lines, recorded_by=principal.user_id, now=utcnow(),
        )  # fmt: skip

    return form_action(work, done=url_for("portal.credits"), back=back,
                       message=t("注销已记录。", "The retirement is recorded."))  # fmt: skip


# -- lots and offline payments --------------------------------------------------------------------
@blp.get("/lots")
@page_requires("operator", "auditor")
def lots_list() -> str:
    """Lots by status; reserved ones wait for a payment an operator confirms from the bank."""
    status = choice("status", LOT_STATUSES)
    query = search_text()
    statement = (
        sa.select(LabelLot, Product, Organisation)
        .join(Product, Product.id == LabelLot.product_id)
        .join(Organisation, Organisation.id == Product.organisation_id)
        .order_by(LabelLot.id.desc())
    )
    if status:
        statement = statement.where(LabelLot.status == status)
    if query:
        statement = statement.where(
            sa.or_(LabelLot.lot_number.contains(query, autoescape=True),
                   Organisation.name.contains(query, autoescape=True),
                   Product.name.contains(query, autoescape=True))
        )  # fmt: skip
    return render_template("console/lots.html", page=paged(statement, scalars=False),
                           status=status, statuses=LOT_STATUSES, query=query)  # fmt: skip


def fen_of(text: str, field: str) -> int:
    """Yuan as people write them (``1,234.5``) in exact fen."""
    try:
        amount = Decimal(text.replace(",", "").replace("¥", "").strip())
    except InvalidOperation:
        raise ValidationFailed.field(field, "Not a valid amount.") from None
    fen = amount * 100
    if not amount.is_finite() or fen != fen.to_integral_value() or fen <= 0:
        raise ValidationFailed.field(field, "A positive amount in yuan, to the fen.")
    return int(fen)


@blp.post("/lots/<id:lot_id>/payment")
@page_requires("operator")
def lot_payment(lot_id: int) -> Response:
    """Confirm a bank transfer for a lot: the lot is paid, backed and issued (the API's rule)."""
    session = get_session()
    lot = session.get(LabelLot, lot_id)
    if lot is None:
        raise NotFound()
    back = safe_next(request.form.get("back"), url_for("console.lots_list"))

    def work() -> None:
        reference = form_text("reference", limit=64)
        amount_fen = fen_of(request.form.get("amount_yuan", ""), "amount_yuan")
        lots.lot_payment_confirm(session, lot=lot, provider="offline", reference=reference,
                                 amount_fen=amount_fen, now=utcnow())  # fmt: skip

    message = t(f"批次 {lot.lot_number} 已确认付款并发码。",
                f"Lot {lot.lot_number} is paid and its codes are issued.")  # fmt: skip
    return form_action(work, done=back, back=back, message=message)
