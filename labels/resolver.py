"""What a scanned code resolves to: the product, its enterprise, footprint and label with its live
status, and for a carbon-neutral label the retired credits behind the unit with their proof.

Pure reads plus the scan count. A serial that fails its MAC is *forged*; a GTIN or lot the
service never issued is *unknown*; both are answered, never raised past the view. The record is
a JSON-ready dict; the HTML page, the mini-program and the linkset are views of it.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from labels.codes import CodeInvalid, base32_value, serial_verify
from labels.gtin import normalise_gtin
from labels.lots import lot_key_of, unit_revoked
from labels.models import Benchmark, Footprint, Label, LabelLot, Product, UnitScan
from labels.wording import label_wording
from ledger import credits
from ledger.credits.disclosure import backing_retirements
from ledger.tlog import leaf_proof
from service.base.parties.models import Organisation

#: A code scanned more often than this shows a warning.
SCAN_WARNING_COUNT = 20
#: How long a lot record stays cached (status changes replace it at once; this bounds the rest,
#: an enterprise renaming itself, say).
LOT_RECORD_TTL_S = 300
PROOF_TTL_S = 60
LOT_LEVEL_INDEX = -1
#: Lot ids are 32-bit: a scene naming a larger number names no lot (and never reaches the database).
LOT_ID_LIMIT = 2**31


class Outcome(enum.StrEnum):
    GENUINE = "genuine"
    REVOKED = "revoked"
    #: The enterprise is suspended: the unit is ours, but its claims do not stand for now.
    SUSPENDED = "suspended"
    FORGED = "forged"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Resolution:
    outcome: Outcome
    record: dict[str, Any]


def _decimal(value: Decimal) -> str:
    return format(value.normalize(), "f")


def resolve(
    session: Session,
    *,
    gtin: str,
    lot_number: str,
    serial: str | None,
    master_keys: dict[str, bytes],
    now: datetime,
    region_code: str | None = None,
    user_id: int | None = None,
    warning_count: int = SCAN_WARNING_COUNT,
    count_scan: bool = True,
    cache: Any | None = None,
    counter: Any | None = None,
) -> Resolution:
    """Resolve a Digital Link's GTIN, lot and (for a unit) serial, and count the scan."""
    try:
        gtin = normalise_gtin(gtin)
    except ValueError:
        return Resolution(Outcome.UNKNOWN, {"outcome": Outcome.UNKNOWN.value})
    found = session.execute(
        sa.select(LabelLot, Product)
        .join(Product, Product.id == LabelLot.product_id)
        .where(Product.gtin == gtin, LabelLot.lot_number == lot_number)
    ).first()
    if found is None or found[0].status != "issued":
        return Resolution(Outcome.UNKNOWN, {"outcome": Outcome.UNKNOWN.value})
    lot, product = found
    index = LOT_LEVEL_INDEX
    revoked = False
    if serial is not None:
        try:
            index = serial_verify(lot_key_of(lot, product, master_keys), serial)
        except CodeInvalid:
            return Resolution(Outcome.FORGED, {"outcome": Outcome.FORGED.value})
        revoked = unit_revoked(session, lot.id, index)
    record = cached_lot_record(session, lot, product, cache)
    if record["backing"] is not None:
        # Not cached with the rest: it appears once the sequencer has logged the allocation.
        allocation_id = record["backing"]["allocation_id"]
        record["backing"]["proof"] = _proof(session, allocation_id, cache)
    scans = None
    province = (region_code or "")[:2]
    province = province if len(province) == 2 and province.isdigit() else None
    if count_scan and counter is not None:
        scans = counter.record(
            session, lot_id=lot.id, index=index, now=now, province=province, user_id=user_id
        )
    elif count_scan:
        scans = _scan(session, lot, index, now, province, user_id)
    outcome = _outcome(record, revoked=revoked)
    warnings = []
    if scans is not None:
        if scans["count"] > warning_count:
            warnings.append("scanned_often")
        if len(scans["provinces"]) > 1:
            warnings.append("scanned_far_apart")
    record.update(
        {
            "outcome": outcome.value,
            "unit": None
            if serial is None
            else {"serial": serial, "index": index, "revoked": revoked},
            "scans": scans,
            "warnings": warnings,
        }
    )
    return Resolution(outcome, record)


def _outcome(record: dict[str, Any], *, revoked: bool) -> Outcome:
    """Revoked (the unit or its label) before suspended (its enterprise) before genuine."""
    if revoked or record["label"]["status"] == "revoked":
        return Outcome.REVOKED
    if record["enterprise"]["status"] == "suspended":
        return Outcome.SUSPENDED
    return Outcome.GENUINE


def resolve_scene(session: Session, *, scene: str, **options: Any) -> Resolution:
    """Resolve a WeChat mini-program code's ``scene`` (``{lot id in base 32}.{serial}``) like its
    Digital Link; ``options`` are :func:`resolve`'s. A scene naming no lot is *unknown*."""
    lot_text, _, serial = scene.partition(".")
    try:
        number = base32_value(lot_text)
    except ValueError:
        number = 0
    lot = session.get(LabelLot, number) if 0 < number < LOT_ID_LIMIT else None
    if lot is None or not serial:
        return Resolution(Outcome.UNKNOWN, {"outcome": Outcome.UNKNOWN.value})
    product = session.get(Product, lot.product_id)
    assert product is not None
    return resolve(session, gtin=product.gtin, lot_number=lot.lot_number, serial=serial, **options)


def _proof(session: Session, allocation_id: int | None, cache: Any | None) -> Any:
    """The allocation's inclusion proof against the latest checkpoint. Cached briefly once it
    exists: a proof against a checkpoint a minute old verifies just as well."""
    if allocation_id is None:
        return None
    key = f"resolver:proof:{allocation_id}"
    if cache is not None:
        cached = cache.get(key)
        if cached is not None:
            return json.loads(cached)
    proof = leaf_proof(session, kind="credits.allocation", source_id=str(allocation_id))
    if proof is not None and cache is not None:
        cache.set(key, json.dumps(proof), PROOF_TTL_S)
    return proof


def cached_lot_record(
    session: Session, lot: LabelLot, product: Product, cache: Any | None
) -> dict[str, Any]:
    """The lot record, from ``cache`` (``get``/``set`` of text with a TTL) when it holds the
    version for the label's current status, its enterprise's and the lot's backing: any
    certification move, suspending or reinstating the enterprise, and re-allocating the lot (an
    operator resolving a claimant finding) change the key, so the next scan after it never sees
    the old record."""
    if cache is None:
        return lot_record(session, lot, product)
    label = session.get(Label, lot.label_id)
    enterprise_status = session.scalar(
        sa.select(Organisation.status).where(Organisation.id == product.organisation_id)
    )
    key = (
        f"resolver:lot:{lot.id}:{label.status}:{label.updated_at.timestamp():.6f}"
        f":{enterprise_status}:{lot.allocation_id}"
    )
    cached = cache.get(key)
    if cached is not None:
        return json.loads(cached)
    record = json_ready(lot_record(session, lot, product))
    cache.set(key, json.dumps(record, ensure_ascii=False), LOT_RECORD_TTL_S)
    return record


def json_ready(value: Any) -> Any:
    """Dates as ISO text, dataclasses as dicts: what JSON, the cache and templates take."""
    if isinstance(value, dict):
        return {key: json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(item) for item in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "__dataclass_fields__"):
        return {name: json_ready(getattr(value, name)) for name in value.__dataclass_fields__}
    return value


def lot_record(session: Session, lot: LabelLot, product: Product) -> dict[str, Any]:
    """Everything about a lot that does not depend on the unit: cacheable as a whole."""
    label = session.get(Label, lot.label_id)
    footprint = session.get(Footprint, label.footprint_id)
    enterprise = session.get(Organisation, product.organisation_id)
    benchmark = session.get(Benchmark, label.benchmark_id) if label.benchmark_id else None
    wording = None
    if label.scheme != "low_carbon" or benchmark is not None:
        wording = label_wording(label, footprint, benchmark)
    return {
        "product": {
            "gtin": product.gtin,
            "name": product.name,
            "name_en": product.name_en,
            "category": product.category,
            "net_content_g": product.net_content_g,
        },
        "enterprise": {
            "name": enterprise.name,
            "uscc": enterprise.uscc,
            "region_code": enterprise.region_code,
            "status": enterprise.status,
        },
        "lot": {"lot_number": lot.lot_number, "units": lot.units, "issued_at": lot.issued_at},
        "footprint": {
            "kg_per_unit": _decimal(footprint.kg_per_unit),
            "kg_per_kg": _decimal(footprint.kg_per_kg),
            "low_kg_per_unit": _decimal(footprint.low_kg_per_unit),
            "high_kg_per_unit": _decimal(footprint.high_kg_per_unit),
            "declared_unit": footprint.declared_unit,
            "boundary": footprint.boundary,
            "gwp_set": footprint.gwp_set,
            "method": footprint.method,
            "period_start": footprint.period_start,
            "period_end": footprint.period_end,
            "breakdown_kg_per_kg": footprint.breakdown,
            "verifier": footprint.verifier,
        },
        "label": {
            "scheme": label.scheme,
            "markets": list(label.markets),
            "status": _live_status(label),
            "certificate_number": label.certificate_number,
            "valid_from": label.valid_from,
            "valid_until": label.valid_until,
            "benchmark": None
            if benchmark is None
            else {"kg_per_kg": _decimal(benchmark.kg_per_kg), "source": benchmark.source},
            "wording": None if wording is None else {"zh-CN": wording.zh, "en": wording.en},
        },
        "backing": _backing(session, lot) if lot.grams_required else None,
    }


def _live_status(label: Label) -> str:
    """The status to show now: a certificate past its validity is expired even before the
    nightly ``tanhui labels expire`` has recorded it."""
    if (
        label.status in ("certified", "suspended")
        and label.valid_until is not None
        and label.valid_until <= datetime.now(UTC).date()
    ):
        return "expired"
    return label.status


def _backing(session: Session, lot: LabelLot) -> dict[str, Any]:
    allocations = credits.allocations_of(session, "label_lot", str(lot.id))
    parts = [part for allocation in allocations for part in allocation["parts"]]
    return {
        "grams_per_unit": lot.grams_per_unit,
        "grams_allocated": sum(allocation["quantity_g"] for allocation in allocations),
        "allocation_id": allocations[0]["allocation_id"] if allocations else None,
        "retirements": backing_retirements(session, parts),
    }


def _scan(
    session: Session,
    lot: LabelLot,
    index: int,
    now: datetime,
    province: str | None,
    user_id: int | None,
) -> dict[str, Any]:
    """Count a scan (the embedded profile writes it at once)."""
    scan = session.scalars(
        sa.select(UnitScan)
        .where(UnitScan.lot_id == lot.id, UnitScan.unit_index == index)
        .with_for_update()
    ).first()
    if scan is None:
        scan = UnitScan(
            lot_id=lot.id,
            unit_index=index,
            scan_count=0,
            first_scan_at=now,
            last_scan_at=now,
            provinces=[],
        )
        session.add(scan)
    scan.scan_count += 1
    scan.last_scan_at = now
    if province is not None and province not in scan.provinces:
        scan.provinces = [*scan.provinces, province]
    if user_id is not None:
        scan.last_user_id = user_id
    session.flush()
    return {
        "count": scan.scan_count,
        "first_scan_at": scan.first_scan_at,
        "provinces": list(scan.provinces),
    }
