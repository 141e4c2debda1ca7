"""The demo's lot retired on payment: YRD Select Retail's own-brand rice.

The retailer has nothing retired in its name, so its lot is ordered holding nothing and, once
paid, waits "paid, retiring" until the registry retires the whole tonnes it needs in the
retailer's name. ``scripts/demo.sh`` starts the demo's registry on loopback
(``scripts/fake_registry.py``, holding the Qingpu 2024 serials our record has available) and
sets ``REGISTRY_URL``; without it the local registry retires from the imported batches.
Idempotent, as the whole seed is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from service.base.parties.models import User
from service.credits_jobs import retire_pending
from service.db import utcnow

DEMO_RETAIL_GTIN = "06901234567939"
DEMO_RETAIL_LOT = "YS2026A"
#: 500 bags of 3.2 kg CO2e: 1.6 t, so the registry retires 2 t and 0.4 t stay for the next lot.
DEMO_RETAIL_UNITS = 500
#: What the demo's registry holds (``scripts/demo.sh`` passes the same to it): the Qingpu 2024
#: serials left after Lianta's 300 t, and the retailer as a beneficiary it knows.
DEMO_REGISTRY_HOLDING = "YRDCI-QP-2023-001:YRDCI-QP-2024:2024:1000301-1001850"


def retail_lot_retired_on_payment(
    session: Session, certified_lot: Callable[..., tuple[Any, Any, Any]]
) -> list[str]:
    """Order and pay the retailer's lot, then run the retire-on-payment job once; answer what
    the demo prints about it. ``certified_lot`` is the seed's own helper (passed in:
    ``service.demo`` imports this module)."""
    now = utcnow()
    staff = session.scalars(sa.select(User).where(User.username == "yrdselect")).one()
    product, _, lot = certified_lot(
        session,
        staff,
        product={"gtin": DEMO_RETAIL_GTIN, "name": "长三角优选 香粳米 5kg",
                 "name_en": "YRD Select fragrant japonica rice, 5 kg", "net_content_g": 5000},
        footprint={
            "kg_per_unit": "3.2", "low_kg_per_unit": "2.9", "high_kg_per_unit": "3.6",
            "breakdown": {"paddy_ch4": "0.40", "fertiliser": "0.14", "drying_milling": "0.06",
                          "packaging_transport": "0.04"},
            "data_quality": {"primary_data_percent": 70},
            "verifier": "上海某认证有限公司（演示）",
            "report": {"title": "优选香粳米碳足迹核查报告", "number": "DEMO-CFP-2025-03",
                       "issued_on": "2025-12-10"},
        },
        lot_number=DEMO_RETAIL_LOT,
        units=DEMO_RETAIL_UNITS,
        bank_reference="DEMO-BANK-0002",
        now=now,
    )  # fmt: skip
    config = current_app.config
    session.commit()  # the payment is committed before the registry is asked, as in service
    outcomes = retire_pending(current_app._get_current_object(), session)  # type: ignore[attr-defined]
    session.refresh(lot)
    registry = config["REGISTRY_URL"] or f"the local registry {config['REGISTRY_CODE']}"
    done = ", ".join(f"{count} {name}" for name, count in sorted(outcomes.items()))
    return [
        f"retired on payment: {product.name}, lot {lot.lot_number} of {lot.units} units "
        f"({lot.status}; registry {registry}: {done or 'nothing pending'})"
    ]
