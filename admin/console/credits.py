"""Sink credits: operators upload a registry's file and record the retirements it made."""

from __future__ import annotations

from datetime import date

from flask import render_template, request, url_for
from flask_babel import gettext
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from admin.console.blueprint import blp
from admin.web import form_action, form_text, page_requires, paged, signed_in
from labels.lots import lot_allocation_repoint
from ledger import credits
from ledger.credits import selectors as credit_selectors
from ledger.errors import CreditError
from points.farms import undistributed_check
from points.redemption import offset_allocation_repoint
from service.base.exceptions import ValidationFailed
from service.db import get_session, utcnow
from service.errors import status_of

IMPORT_FORMATS = ("json", "csv")
#: Registry files the page lists (the most recent).
CREDIT_IMPORTS_SHOWN = 10
#: Open findings of the claimant rule (migration 0017) listed on the credits page.
CREDIT_FINDINGS_SHOWN = 50
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
    imports = credit_selectors.imports_recent(session, limit=CREDIT_IMPORTS_SHOWN)
    batches = paged(credit_selectors.batches_with_projects(), scalars=False)
    findings = credit_selectors.findings_open(session, limit=CREDIT_FINDINGS_SHOWN)
    body = render_template("console/credits.html", result=result, problems=problems,
                  imports=imports, page=batches, findings=findings,
                  finding_problems=_finding_problems())  # fmt: skip
    return (body, status) if status != 200 else body


def _finding_problems() -> dict[str, str]:
    """Each kind of finding, as an operator reads it."""
    return {
        "other_beneficiary": gettext("The retirement was made for another organisation."),
        "beneficiary_unknown": gettext("The retirement's beneficiary matches no organisation."),
        "claimant_unknown": gettext("The allocation's claimant is unknown."),
    }


def _organisation_id() -> int:
    """The beneficiary organisation's number from the form."""
    try:
        number = int(request.form.get("beneficiary_organisation_id", ""))
    except ValueError:
        number = 0
    if number <= 0:
        raise ValidationFailed.field("beneficiary_organisation_id", "An organisation's number.")
    return number


def _retirement_lines() -> list[credits.RetirementLine]:
    """The form's lines (``batch_N``, ``quantity_t_N``); empty lines are skipped."""
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
    return lines


@blp.post("/credits/retirements")
@page_requires("operator")
def retirement_record() -> Response:
    """Record a retirement the registry made: a batch and whole tonnes per line."""
    principal = signed_in()
    back = url_for("console.credits_import")

    def work() -> None:
        lines = _retirement_lines()
        try:
            retired_on = date.fromisoformat(request.form.get("retired_on", ""))
        except ValueError:
            raise ValidationFailed.field("retired_on", "Not a valid date.") from None
        credits.retire(
            get_session(),
            registry_code=form_text("registry_code", limit=32),
            registry_reference=form_text("registry_reference", limit=128),
            beneficiary=form_text("beneficiary", limit=TEXT_FIELD_MAX_CHARS),
            beneficiary_organisation_id=_organisation_id(),
            purpose=form_text("purpose", limit=500),
            retired_on=retired_on, lines=lines, recorded_by=principal.user_id, now=utcnow(),
        )  # fmt: skip

    return form_action(work, done=url_for("portal.credits"), back=back,
                       message=gettext("The retirement is recorded."))  # fmt: skip


def _retarget(session: Session, target_type: str, target_id: str, from_id: int, to_id: int) -> None:
    """Point the target of a re-allocated finding at its new allocation: a label lot, or a
    personal offset's order (the ledger knows neither). A lot's allocation whose farm shares were
    paid is refused (``points.farms.undistributed_check``), and the whole resolution with it."""
    if target_type == "label_lot":
        undistributed_check(session, allocation_id=from_id)
        lot_allocation_repoint(session, lot_id=int(target_id), from_allocation_id=from_id,
                               to_allocation_id=to_id)  # fmt: skip
    else:
        offset_allocation_repoint(session, target_id=target_id, from_allocation_id=from_id,
                                  to_allocation_id=to_id)  # fmt: skip


@blp.post("/credits/findings/<id:finding_id>/resolution")
@page_requires("operator")
def finding_resolution(finding_id: int) -> Response:
    """Resolve a claimant finding: reverse its allocation and allocate the same grams to the
    same target from the claimant's own retirements. The form's box must be ticked."""
    principal = signed_in()
    back = url_for("console.credits_import")

    def work() -> credits.FindingResolution:
        if request.form.get("confirm") != "yes":
            raise ValidationFailed.field("confirm", "Missing data for required field.")
        return credits.finding_resolve(get_session(), finding_id=finding_id,
                                       actor=principal.user_id, now=utcnow(),
                                       retarget=_retarget)  # fmt: skip

    return form_action(
        work, done=back, back=back,
        message=lambda result: gettext(
            "Allocation %(reversed)d is reversed; allocation %(allocation)d backs its target.",
            reversed=result.reversed_allocation_id, allocation=result.allocation_id,
        ),
    )  # fmt: skip
