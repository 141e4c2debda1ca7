"""The audit: re-check every ledger invariant from the rows, independently of the code that
wrote them. ``tanhui ledger verify`` prints what this returns and exits non-zero on any finding.

The checks are a table: a name (what holds) and a small function that answers what it found.
Adding an invariant is adding a row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from ledger.tlog.cosignatures import WitnessKey
from ledger.tlog.log import log_verify
from ledger.tlog.note import Verifier
from ledger.verify import credits, entries
from ledger.verify.common import FINDINGS_PER_CHECK_MAX

#: Every check, in the order the report lists them.
CHECKS: tuple[tuple[str, Callable[[Session], list[str]]], ...] = (
    ("entries balance per asset", entries.entries_balance),
    ("assets balance overall", entries.assets_balance),
    ("postings match their account's asset", entries.postings_match_assets),
    ("entries have postings", entries.entries_have_postings),
    ("stored balances equal their postings", entries.balances_stored),
    ("no account below zero", entries.balances_not_negative),
    ("issuers keep no stored balance", entries.issuers_store_nothing),
    ("reservations equal pending holds", entries.reservations_held),
    ("lot remainders sum to balances", entries.lots_sum_to_balances),
    ("lots equal their movements", entries.lots_equal_movements),
    ("lot account postings are fully in lots", entries.lot_postings_in_lots),
    ("reversals mirror their entries", entries.reversals_mirror),
    ("every entry is logged", entries.entries_logged),
    ("credit serials are conserved", credits.serials_conserved),
    ("credit serials never overlap", credits.serials_never_overlap),
    ("retirements hold their tonnes", credits.retirements_hold_tonnes),
    ("allocations stay within retirements", credits.allocations_within_retirements),
    ("allocations trace to retirements", credits.allocations_traced),
    ("no gram of a serial is allocated twice", credits.grams_never_allocated_twice),
    ("allocation parts stay inside their ranges", credits.parts_inside_their_ranges),
    ("allocations draw on their claimant's retirements", credits.allocations_claim_own_retirements),
    ("reversed allocations are reversed whole", credits.reversed_parts_reversed),
)
#: Checks whose findings are known (recorded for an operator to resolve): reported, not failures.
KNOWN: tuple[tuple[str, Callable[[Session], list[str]]], ...] = (
    ("recorded claimant findings", credits.allocation_findings_known),
)


@dataclass(frozen=True)
class Report:
    checks: dict[str, int]
    problems: list[str]
    #: Known findings (``KNOWN``): listed for the operator, the audit still passes.
    known: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def ledger_verify(
    session: Session,
    *,
    verifier: Verifier | None = None,
    origin: str | None = None,
    witnesses: Sequence[WitnessKey] = (),
) -> Report:
    """Run every check; with the log's verifier and origin, check the transparency log too (and
    the stored cosignatures of the ``witnesses`` given)."""
    problems: list[str] = []
    checks: dict[str, int] = {}
    table = list(CHECKS)
    if verifier is not None and origin is not None:
        log_verifier, log_origin = verifier, origin

        def transparency_log(session: Session) -> list[str]:
            found = log_verify(
                session, verifier=log_verifier, origin=log_origin, witnesses=witnesses
            )
            return found[:FINDINGS_PER_CHECK_MAX]

        table.append(("transparency log", transparency_log))
    for name, check in table:
        found = check(session)
        checks[name] = len(found)
        problems.extend(f"{name}: {line}" for line in found)
    known = [f"{name}: {line}" for name, check in KNOWN for line in check(session)]
    return Report(checks, problems, known)
