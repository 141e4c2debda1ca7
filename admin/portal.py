"""The public portal at ``/``: what the programme is, the label registry, the credit disclosure
with its charts, the transparency log, and the policies and announcements operators publish.

Everything here is public and read-only; the same facts are open data under ``/api/v1``.
"""

from __future__ import annotations

from flask import current_app, render_template
from flask_babel import gettext

from admin.selectors import portal as selectors
from admin.web import choice, paged, pages_blueprint, search_text
from ledger.credits import disclosure
from ledger.credits import selectors as credit_selectors
from service.base.exceptions import NotFound
from service.db import get_session
from service.i18n import N_
from service.models import PUBLICATION_KINDS
from service.signing import log_signer

blp = pages_blueprint("portal", None, console=False)
#: What each kind of log leaf records, as the log's page names it.
LOG_KINDS = {
    "ledger.entry": N_("Ledger entry"),
    "credits.import": N_("Credit file imported"),
    "credits.retirement": N_("Credits retired"),
    "credits.allocation": N_("Credits allocated"),
    "credits.finding": N_("Allocation finding"),
    "credits.finding_resolution": N_("Finding resolved"),
    "labels.transition": N_("Label status changed"),
    "labels.lot_issued": N_("Lot issued"),
    "labels.units_revoked": N_("Units revoked"),
    "points.personal_offset": N_("Personal offset"),
}
LABEL_STATUSES = ("certified", "suspended", "revoked", "expired")
HOME_NOTICES = 3


@blp.get("/")
def home() -> str:
    session = get_session()
    notices = selectors.publications_latest(session, limit=HOME_NOTICES)
    return render_template("portal/home.html", numbers=selectors.headline(session), notices=notices)


@blp.get("/labels")
def labels() -> str:
    query, status = search_text(), choice("status", LABEL_STATUSES)
    page = paged(selectors.label_registry(query, status), scalars=False)
    return render_template(
        "portal/labels.html", page=page, query=query, status=status, statuses=LABEL_STATUSES
    )


@blp.get("/credits")
def credits() -> str:
    session = get_session()
    monthly = selectors.credits_by_month(session)
    projects = selectors.credits_by_project(session)
    page = paged(credit_selectors.retirements())
    retirements = disclosure.retirement_views(session, page.rows, detailed=True)
    monthly_chart = {
        "type": "bar",
        "labels": monthly["months"],
        "unit": gettext("t CO₂e"),
        "series": [
            {"label": gettext("Retired"), "values": monthly["retired_t"]},
            {"label": gettext("Allocated"), "values": monthly["allocated_t"]},
        ],
    }
    project_chart = {
        "type": "bar",
        "labels": [row["project"].name for row in projects],
        "unit": gettext("t CO₂e"),
        "series": [
            {"label": gettext("Issued"), "values": [row["issued_t"] for row in projects]},
            {"label": gettext("Retired"), "values": [row["retired_t"] for row in projects]},
            {"label": gettext("Allocated"),
             "values": [round(row["allocated_g"] / 1_000_000, 3) for row in projects]},
        ],
    }  # fmt: skip
    return render_template(
        "portal/credits.html",
        projects=projects,
        page=page,
        retirements=retirements,
        monthly_chart=monthly_chart,
        project_chart=project_chart,
    )


#: Where the log's resources live, as the log's page names them.
LOG_PATHS = {
    "checkpoint": "/log/checkpoint",
    "tiles": "/log/tile/<L>/<N>",
    "entries": "/log/tile/entries/<N>",
    "api": "/api/v1/log/proofs/…",
}


def verify_commands(*, log_url: str, key: str, witness_keys: list[str], scan_link: str) -> dict:
    """The verifier's command lines for this log (the log's page shows them to copy)."""
    witnesses = "".join(f" --witness '{witness}'" for witness in witness_keys)
    return {
        "unit": f"python3 tanhui-verify.py unit '{scan_link}' --key '{key}'",
        "mirror": f"python3 tanhui-verify.py mirror {log_url} tanhui-log --key '{key}'{witnesses}",
    }


@blp.get("/log")
def log() -> str:
    config = current_app.config
    log_url = config["PUBLIC_BASE_URL"].rstrip("/") + "/log"
    witness_keys = [witness.key.text for witness in config["TLOG_WITNESS_LIST"]]
    key = log_signer().verifier_key
    return render_template(
        "portal/log.html",
        state=selectors.log_state(
            get_session(),
            quorum=config["TLOG_WITNESS_QUORUM"],
            witnesses=config["TLOG_WITNESS_LIST"],
        ),
        origin=config["TLOG_ORIGIN"],
        verifier_key=key,
        witness_keys=witness_keys,
        quorum=config["TLOG_WITNESS_QUORUM"],
        kinds=LOG_KINDS,
        paths=LOG_PATHS,
        commands=verify_commands(
            log_url=log_url,
            key=key,
            witness_keys=witness_keys,
            scan_link="<" + gettext("scan link") + ">",
        ),
    )


@blp.get("/notices")
def notices() -> str:
    kind = choice("kind", PUBLICATION_KINDS)
    return render_template(
        "portal/notices.html", page=paged(selectors.publications(kind)), kind=kind
    )


@blp.get("/notices/<string(maxlength=64):slug>")
def notice(slug: str) -> str:
    publication = selectors.publication_published(get_session(), slug)
    if publication is None:
        raise NotFound()
    return render_template("portal/notice.html", publication=publication)
