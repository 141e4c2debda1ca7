"""Footprints, benchmarks and label certification. Functions take a session and never commit.

The workflow (who may make each move)::

    submitted ──certifier──▶ under_review ──certifier──▶ certified ──certifier──▶ suspended
                                  │                         │  ▲                    │
                                  └──certifier──▶ rejected  │  └────certifier───────┘
                                                            ├──certifier──▶ revoked ◀── suspended
                                                            └──expiry job──▶ expired ◀── suspended

Every move is a ``LabelTransition`` row and a transparency-log event (``labels.transition``).
Wording keeps reduction (footprint, low-carbon) and offset (carbon-neutral) apart. A label names
the markets where its product is sold, and a claim banned in one of them (``labels.markets``: an
offset-based claim in the EU) is refused when applied for and when it would be certified.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from labels.errors import BenchmarkNotMet, ClaimBannedInMarket, TransitionRefused
from labels.formulas import InputInvalid, activity_from_mapping, rice_footprint
from labels.markets import MARKETS_MAX_COUNT, markets_unknown, markets_where_claim_banned
from labels.models import Benchmark, Footprint, Label, LabelTransition, Product
from labels.services import product_for_reader
from labels.wording import label_wording
from ledger.tlog import log_append
from service.base.exceptions import FieldMessage, Forbidden, NotFound, ValidationFailed
from service.base.parties.services import Principal

RICE_CATEGORIES = ("milled_rice", "brown_rice", "glutinous_rice")
FOOTPRINT_KG_PER_UNIT_MAX = Decimal(10_000)
BREAKDOWN_TOLERANCE = Decimal("0.01")  # stages may differ from the total by 1 % (rounding)
PERIOD_MAX_DAYS = 3 * 366
VALIDITY_DEFAULT_DAYS = 2 * 365
VALIDITY_MAX_DAYS = 3 * 366
_KG = Decimal("0.0001")

#: (from, to) → the role that may make the move; ``None`` for the expiry job alone.
TRANSITIONS: dict[tuple[str, str], str | None] = {
    ("submitted", "under_review"): "certifier",
    ("under_review", "certified"): "certifier",
    ("under_review", "rejected"): "certifier",
    ("certified", "suspended"): "certifier",
    ("suspended", "certified"): "certifier",
    ("certified", "revoked"): "certifier",
    ("suspended", "revoked"): "certifier",
    ("certified", "expired"): None,
    ("suspended", "expired"): None,
}
REASON_REQUIRED = frozenset({"rejected", "suspended", "revoked"})


def _kg(value: Decimal) -> Decimal:
    return value.quantize(_KG, rounding=ROUND_HALF_EVEN)


def unit_mass_kg(product: Product) -> Decimal:
    """The mass one footprint value refers to: 1 kg, or one sales unit."""
    if product.declared_unit == "kg":
        return Decimal(1)
    return Decimal(product.net_content_g) / 1000


def _manager_check(principal: Principal, product: Product) -> None:
    if not (
        principal.has_any_role(("operator",))
        or product.organisation_id in principal.organisation_ids("enterprise_staff")
    ):
        raise Forbidden()
    principal.organisation_write_check(product.organisation_id)


def _period(values: Mapping[str, Any], today: date) -> tuple[date, date]:
    start, end = values["period_start"], values["period_end"]
    if start > end:
        raise ValidationFailed.field("period_end", "Must not be before period_start.")
    if end > today:
        raise ValidationFailed.field("period_end", "Must not be in the future.")
    if (end - start).days > PERIOD_MAX_DAYS:
        raise ValidationFailed.field(
            "period_end",
            FieldMessage("At most {period_max_days} days long.", period_max_days=PERIOD_MAX_DAYS),
        )
    return start, end


def footprint_record(
    session: Session,
    *,
    principal: Principal,
    product: Product,
    values: Mapping[str, Any],
    now: datetime,
) -> Footprint:
    """A footprint as the API's body gives it: ``computed`` by the rice calculator from
    ``activity``, or ``declared`` from a verifier's report."""
    if values["method"] == "computed":
        return footprint_compute(session, principal=principal, product=product,
                                 activity=values["activity"], values=values, now=now)  # fmt: skip
    return footprint_declare(session, principal=principal, product=product, values=values, now=now)


def footprint_declare(
    session: Session,
    *,
    principal: Principal,
    product: Product,
    values: Mapping[str, Any],
    now: datetime,
) -> Footprint:
    """Record a footprint from a third-party verified report."""
    _manager_check(principal, product)
    start, end = _period(values, now.date())
    per_unit = _kg(Decimal(values["kg_per_unit"]))
    if not 0 < per_unit <= FOOTPRINT_KG_PER_UNIT_MAX:
        raise ValidationFailed.field(
            "kg_per_unit",
            FieldMessage(
                "Between 0 and {footprint_kg_per_unit_max}.",
                footprint_kg_per_unit_max=FOOTPRINT_KG_PER_UNIT_MAX,
            ),
        )
    per_kg = _kg(per_unit / unit_mass_kg(product))
    low = _kg(Decimal(values.get("low_kg_per_unit", per_unit)))
    high = _kg(Decimal(values.get("high_kg_per_unit", per_unit)))
    if not low <= per_unit <= high:
        raise ValidationFailed.field("low_kg_per_unit", "The range must contain the value.")
    breakdown = {stage: _kg(Decimal(v)) for stage, v in values["breakdown"].items()}
    total = sum(breakdown.values(), Decimal(0))
    if abs(total - per_kg) > per_kg * BREAKDOWN_TOLERANCE:
        raise ValidationFailed.field(
            "breakdown",
            FieldMessage(
                "Stages add up to {total} kg per kg, not {per_kg}.", total=total, per_kg=per_kg
            ),
        )
    footprint = Footprint(
        product_id=product.id,
        method="declared",
        kg_per_unit=per_unit,
        kg_per_kg=per_kg,
        low_kg_per_unit=low,
        high_kg_per_unit=high,
        declared_unit=product.declared_unit,
        boundary=values["boundary"],
        gwp_set=values["gwp_set"],
        period_start=start,
        period_end=end,
        breakdown={stage: str(value) for stage, value in breakdown.items()},
        data_quality=dict(values["data_quality"]),
        verifier=values["verifier"],
        report={key: str(value) for key, value in values["report"].items()},
        calculation={},
        created_by=principal.user_id,
        created_at=now,
    )
    session.add(footprint)
    session.flush()
    return footprint


def footprint_compute(
    session: Session,
    *,
    principal: Principal,
    product: Product,
    activity: Mapping[str, Any],
    values: Mapping[str, Any],
    now: datetime,
) -> Footprint:
    """Compute a rice product's footprint with the built-in calculator."""
    _manager_check(principal, product)
    if product.category not in RICE_CATEGORIES:
        raise ValidationFailed.field("method", "The calculator covers rice products only.")
    start, end = _period(values, now.date())
    unit_kg = unit_mass_kg(product)
    try:
        parsed = activity_from_mapping({**activity, "unit_mass_kg": str(unit_kg)})
        result = rice_footprint(parsed)
    except InputInvalid as error:
        raise ValidationFailed.field(f"activity.{error.field}", error.message) from error
    footprint = Footprint(
        product_id=product.id,
        method="computed",
        kg_per_unit=result.total_kg_per_unit,
        kg_per_kg=result.total_kg_per_kg,
        low_kg_per_unit=min(result.low_kg_per_unit, result.total_kg_per_unit),
        high_kg_per_unit=max(result.high_kg_per_unit, result.total_kg_per_unit),
        declared_unit=product.declared_unit,
        boundary="cradle_to_gate",
        gwp_set=result.gwp_set,
        period_start=start,
        period_end=end,
        breakdown={stage: str(value) for stage, value in result.stages_kg_per_kg.items()},
        data_quality=dict(values.get("data_quality") or {"source": "primary activity data"}),
        verifier=values.get("verifier", ""),
        report={},
        calculation={
            "factor_table_version": result.factor_table_version,
            "activity": {key: value for key, value in activity.items()},
            "factors": result.factors,
            "allocation": "all field emissions carried by milled rice (conservative)",
        },
        created_by=principal.user_id,
        created_at=now,
    )
    session.add(footprint)
    session.flush()
    return footprint


def footprints_of(session: Session, product: Product) -> list[Footprint]:
    """The product's footprints, newest first."""
    return list(
        session.scalars(
            sa.select(Footprint)
            .where(Footprint.product_id == product.id)
            .order_by(Footprint.id.desc())
        )
    )


# -- benchmarks -----------------------------------------------------------------------------------
def benchmark_set(
    session: Session,
    *,
    category: str,
    kg_per_kg: Decimal,
    source: str,
    valid_from: date,
    user_id: int | None,
    now: datetime,
) -> Benchmark:
    if not source.strip():
        raise ValidationFailed.field("source", "Say where the benchmark comes from.")
    benchmark = Benchmark(
        category=category,
        kg_per_kg=_kg(kg_per_kg),
        source=source.strip(),
        valid_from=valid_from,
        created_by=user_id,
        created_at=now,
    )
    session.add(benchmark)
    session.flush()
    return benchmark


def benchmarks_all(session: Session) -> list[Benchmark]:
    """Every benchmark, by category and date, with its source: few enough to list whole."""
    return list(
        session.scalars(sa.select(Benchmark).order_by(Benchmark.category, Benchmark.valid_from))
    )


def benchmark_for(session: Session, category: str, on: date) -> Benchmark | None:
    """The category's benchmark in force on ``on``: the latest one valid from then or before."""
    return session.scalars(
        sa.select(Benchmark)
        .where(Benchmark.category == category, Benchmark.valid_from <= on)
        .order_by(Benchmark.valid_from.desc())
        .limit(1)
    ).first()


# -- labels ---------------------------------------------------------------------------------------
def label_apply(
    session: Session,
    *,
    principal: Principal,
    product: Product,
    footprint_id: int,
    scheme: str,
    markets: Sequence[str],
    now: datetime,
) -> Label:
    """Apply for a label scheme on one of the product's footprints, for the markets where the
    product is sold; refused when the scheme's claim is banned in one of them."""
    _manager_check(principal, product)
    footprint = session.get(Footprint, footprint_id)
    if footprint is None or footprint.product_id != product.id:
        raise ValidationFailed.field("footprint_id", "Not a footprint of this product.")
    markets = markets_check(markets)
    banned = markets_where_claim_banned(scheme, markets, now)
    if banned:
        raise ClaimBannedInMarket(banned)
    label = Label(
        product_id=product.id,
        footprint_id=footprint.id,
        scheme=scheme,
        markets=markets,
        status="submitted",
        submitted_by=principal.user_id,
        created_at=now,
        updated_at=now,
    )
    session.add(label)
    session.flush()
    _record(session, label, None, "submitted", principal.user_id, "", now)
    return label


def markets_check(markets: Sequence[str]) -> list[str]:
    """The markets, each once and in the order given, or a ``markets`` field error: at least
    one, each a known code (``labels.markets.MARKETS``)."""
    unique = list(dict.fromkeys(markets))
    if not 1 <= len(unique) <= MARKETS_MAX_COUNT:
        raise ValidationFailed.field(
            "markets",
            FieldMessage(
                "Name between 1 and {markets_max_count} markets.",
                markets_max_count=MARKETS_MAX_COUNT,
            ),
        )
    unknown = markets_unknown(unique)
    if unknown:
        raise ValidationFailed.field(
            "markets",
            FieldMessage(
                "Unknown market: {codes}. Use a country's ISO 3166-1 alpha-2 code in capitals "
                "(CN for mainland China), or EU for the European Union as a whole.",
                codes=", ".join(unknown),
            ),
        )
    return unique


def label_transition(
    session: Session,
    *,
    label: Label,
    to_status: str,
    actor: Principal | None,
    now: datetime,
    reason: str = "",
    valid_until: date | None = None,
) -> Label:
    """Move a label along the workflow; ``actor`` ``None`` is the expiry job."""
    role = TRANSITIONS.get((label.status, to_status), "missing")
    if role == "missing":
        raise TransitionRefused(params={"from": label.status, "to": to_status})
    if role is None:
        if actor is not None:
            raise TransitionRefused(params={"from": label.status, "to": to_status})
    elif actor is None or not actor.has_any_role((role,)):
        raise Forbidden()
    reason = reason.strip()
    if to_status in REASON_REQUIRED and not reason:
        raise ValidationFailed.field("reason", "Say why.")
    banned = markets_where_claim_banned(label.scheme, label.markets, now)
    if to_status == "certified" and banned:
        raise ClaimBannedInMarket(banned)
    if to_status == "certified" and label.status == "under_review":
        _certify(session, label, now, valid_until)
    elif to_status == "certified" and label.valid_until and label.valid_until <= now.date():
        raise TransitionRefused(params={"from": label.status, "to": to_status})
    from_status = label.status
    label.status = to_status
    label.reason = reason
    label.updated_at = now
    session.flush()
    _record(session, label, from_status, to_status, actor.user_id if actor else None, reason, now)
    return label


def _certify(session: Session, label: Label, now: datetime, valid_until: date | None) -> None:
    today = now.date()
    until = valid_until or today + timedelta(days=VALIDITY_DEFAULT_DAYS)
    if not today < until <= today + timedelta(days=VALIDITY_MAX_DAYS):
        raise ValidationFailed.field(
            "valid_until",
            FieldMessage(
                "After today and within {validity_max_days} days.",
                validity_max_days=VALIDITY_MAX_DAYS,
            ),
        )
    if label.scheme == "low_carbon":
        product = session.get(Product, label.product_id)
        footprint = session.get(Footprint, label.footprint_id)
        assert product is not None and footprint is not None
        benchmark = benchmark_for(session, product.category, today)
        if benchmark is None:
            raise BenchmarkNotMet(params={"detail": f"no benchmark for {product.category}"})
        if not footprint.kg_per_kg < benchmark.kg_per_kg:
            raise BenchmarkNotMet(
                params={"detail": f"{footprint.kg_per_kg} ≥ {benchmark.kg_per_kg} kg per kg"}
            )
        label.benchmark_id = benchmark.id
    label.certificate_number = f"TH-{today.year}-{label.id:06d}"
    label.valid_from, label.valid_until = today, until


def _record(
    session: Session,
    label: Label,
    from_status: str | None,
    to_status: str,
    actor_id: int | None,
    reason: str,
    now: datetime,
) -> None:
    transition = LabelTransition(
        label_id=label.id,
        from_status=from_status,
        to_status=to_status,
        actor_id=actor_id,
        reason=reason,
        created_at=now,
    )
    session.add(transition)
    session.flush()
    log_append(
        session,
        kind="labels.transition",
        source_id=str(transition.id),
        data={
            "label_id": label.id,
            "product_id": label.product_id,
            "footprint_id": label.footprint_id,
            "scheme": label.scheme,
            "markets": label.markets,
            "from": from_status,
            "to": to_status,
            "certificate_number": label.certificate_number,
            "valid_until": label.valid_until.isoformat() if label.valid_until else None,
            "reason": reason,
            "at": now.isoformat(),
        },
        now=now,
    )


def labels_expire(session: Session, *, now: datetime) -> int:
    """Expire certified and suspended labels whose validity has ended; returns how many."""
    due = session.scalars(
        sa.select(Label)
        .where(Label.status.in_(("certified", "suspended")), Label.valid_until <= now.date())
        .order_by(Label.id)
        .with_for_update()
    ).all()
    for label in due:
        label_transition(session, label=label, to_status="expired", actor=None, now=now)
    return len(due)


def labels_visible(
    principal: Principal, *, status: str | None = None, product_id: int | None = None
) -> sa.Select[tuple[Label]]:
    """Label applications the principal may see (their enterprises', or all for platform staff),
    of one status or product when given: a statement, so the caller pages it."""
    statement = sa.select(Label).join(Product, Product.id == Label.product_id)
    if not principal.is_platform_staff:
        statement = statement.where(
            Product.organisation_id.in_(principal.organisation_ids("enterprise_staff"))
        )
    if status is not None:
        statement = statement.where(Label.status == status)
    if product_id is not None:
        statement = statement.where(Label.product_id == product_id)
    return statement.order_by(Label.id)


def label_detail(session: Session, label: Label) -> dict[str, Any]:
    """A label with its footprint in full, every transition, and its wording (none for a
    low-carbon label not yet measured against a benchmark)."""
    footprint = session.get(Footprint, label.footprint_id)
    assert footprint is not None
    benchmark = session.get(Benchmark, label.benchmark_id) if label.benchmark_id else None
    transitions = session.scalars(
        sa.select(LabelTransition)
        .where(LabelTransition.label_id == label.id)
        .order_by(LabelTransition.id)
    ).all()
    wording = None
    if label.scheme != "low_carbon" or benchmark is not None:
        wording = label_wording(label, footprint, benchmark)
    return {
        **{column.key: getattr(label, column.key) for column in Label.__table__.columns},
        "footprint": footprint,
        "transitions": transitions,
        "wording": wording,
    }


def label_for_reader(session: Session, principal: Principal, label_id: int) -> Label:
    """The label, or ``NotFound`` when it does not exist or its product is out of sight."""
    label = session.get(Label, label_id)
    if label is None:
        raise NotFound()
    product_for_reader(session, principal, label.product_id)
    return label
