"""The labels package's errors: one closed set of codes, and the exceptions that carry them.

Every failure of products, certification and lots that reaches a client is a ``ServiceError``
whose ``code`` is an ``ErrorCode`` member here or one of the ground's (``not_found``,
``validation_failed``, ...). Nothing here knows HTTP: ``service.errors`` maps each code to its
status in its ``_LABELS`` section, and a test checks that every member has one.

The pure modules' ``ValueError`` subclasses (``labels.codes.CodeInvalid``,
``labels.formulas.InputInvalid``) never leave as they are: the resolver answers a forged code as
an outcome, and the footprint calculator's complaint becomes a field of ``validation_failed``.
"""

from __future__ import annotations

import enum

from service.base.exceptions import FieldMessage, ServiceError


class ErrorCode(enum.StrEnum):
    """Codes clients branch on; each value is part of the API and never changes."""

    GTIN_TAKEN = "gtin_taken"
    LABEL_TRANSITION_REFUSED = "label_transition_refused"
    LABEL_BENCHMARK_NOT_MET = "label_benchmark_not_met"
    LABEL_NOT_CERTIFIED = "label_not_certified"
    LOT_STATE_CONFLICT = "lot_state_conflict"
    LABEL_CLAIM_BANNED_IN_MARKET = "label_claim_banned_in_market"


class GtinTaken(ServiceError):
    """Another product holds the GTIN: a GTIN names one product, worldwide."""

    code = ErrorCode.GTIN_TAKEN

    def __init__(self) -> None:
        super().__init__(fields={"gtin": [FieldMessage("This GTIN belongs to another product.")]})


class TransitionRefused(ServiceError):
    """The certification workflow has no such move from the label's status (or only the expiry
    job may make it)."""

    code = ErrorCode.LABEL_TRANSITION_REFUSED


class BenchmarkNotMet(ServiceError):
    """A low-carbon label needs a footprint below its category's benchmark in force."""

    code = ErrorCode.LABEL_BENCHMARK_NOT_MET


class LabelNotCertified(ServiceError):
    """Lots are ordered only on a label certified and within its validity."""

    code = ErrorCode.LABEL_NOT_CERTIFIED


class LotStateConflict(ServiceError):
    """The lot's status does not allow the move (cancelling a paid lot, exporting codes of a lot
    not issued, paying twice with different references)."""

    code = ErrorCode.LOT_STATE_CONFLICT


class ClaimBannedInMarket(ServiceError):
    """The label's claim may not be made in some of the markets where the product is sold: an
    offset-based (carbon-neutral) claim in the EU once Directive (EU) 2024/825 applies (see
    ``labels.markets``). Raised when the label is applied for, and when a certifier would certify
    it; the field to change is ``markets``."""

    code = ErrorCode.LABEL_CLAIM_BANNED_IN_MARKET

    def __init__(self, markets: list[str]) -> None:
        codes = ", ".join(markets)
        super().__init__(
            params={"markets": codes},
            fields={
                "markets": [
                    FieldMessage(
                        "Directive (EU) 2024/825 bans offset-based carbon-neutral claims in the "
                        "EU from 27 September 2026: remove {markets}, or apply for a footprint "
                        "or low-carbon label.",
                        markets=codes,
                    )
                ]
            },
        )
