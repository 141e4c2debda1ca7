"""The audit page: the ledger and log verification, and a search of ledger entries."""

from __future__ import annotations

from flask import current_app, render_template, request

from admin.console.blueprint import blp
from admin.web import page_requires, paged, search_text
from ledger import selectors
from ledger.tlog import log_verify
from ledger.verify import ledger_verify
from service.db import get_session
from service.signing import log_signer

ENTRY_KIND_MAX_CHARS = 32
ACCOUNT_CODE_MAX_CHARS = 128


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
    key = search_text()
    account = request.args.get("account", "").strip()[:ACCOUNT_CODE_MAX_CHARS]
    kind = request.args.get("kind", "").strip()[:ENTRY_KIND_MAX_CHARS]
    page = paged(selectors.entries(key=key, kind=kind, account=account))
    return render_template(
        "console/audit.html",
        report=report,
        log_problems=log_problems,
        page=page,
        postings=selectors.postings_of(session, entry_ids=[entry.id for entry in page.rows]),
        key=key,
        kind=kind,
        account=account,
        kinds=selectors.entry_kinds(session),
    )
