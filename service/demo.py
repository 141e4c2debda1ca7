"""Demo parties and sink credits for the three pilot areas. Seeding twice changes nothing.

The seed writes through every domain package (parties, the ledger's credits, labels, points), so
it belongs to the composition root beside the app factory and the commands, not to the pages.

Every demo staff account signs in with ``DEMO_PASSWORD``; this data is for a laptop, never for a
server anyone else can reach.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from labels import certification, lots
from labels import services as products
from labels.codes import serial_for
from labels.models import Footprint, Label, LabelLot, Product
from ledger import credits
from ledger.credits import selectors as credit_selectors
from points import grants, idempotency, redemption, rules
from points.models import CatalogueItem, PointRule
from service.auth.passwords import password_hash
from service.base.parties import services as parties
from service.base.parties.models import Organisation, User, WeChatIdentity
from service.base.parties.services import principal_for
from service.db import utcnow
from service.demo_retiring import retail_lot_retired_on_payment

DEMO_PASSWORD = "tanhui-demo-2026"  # noqa: S105 - published demo login

#: (kind, name, uscc, region code, staff username)
DEMO_ORGANISATIONS = (
    (
        "enterprise",
        "青浦练塘大米有限公司 Lianta Rice Co.",
        "91310118MA1FL4XQ09",
        "310118",
        "lianta",
    ),
    (
        "enterprise",
        "吴江同里米业有限公司 Tongli Rice Co.",
        "91320509MA1NQ7K2TQ",
        "320509",
        "tongli",
    ),
    ("enterprise", "长三角优选超市 YRD Select Retail", "91310000MA1K3C7P2R", "310000", "yrdselect"),
    (
        "cooperative",
        "青浦练塘水稻专业合作社 Lianta Rice Cooperative",
        "93310118MA1HY2W6XQ",
        "310118",
        "lianta_coop",
    ),
    (
        "cooperative",
        "嘉善姚庄稻米专业合作社 Yaozhuang Rice Cooperative",
        "93330421MA2JD5R8YR",
        "330421",
        "yaozhuang_coop",
    ),
    ("farm", "吴江震泽沈氏家庭农场 Shen Family Farm", None, "320509", "shen_farm"),
    ("farm", "青浦金泽陆氏家庭农场 Lu Family Farm", None, "310118", "lu_farm"),
    ("farm", "嘉善西塘周氏家庭农场 Zhou Family Farm", None, "330421", "zhou_farm"),
)
DEMO_PLATFORM_STAFF = (("operator", "operator"), ("certifier", "certifier"), ("auditor", "auditor"))

#: The registry files of the three pilot projects (``examples/credits`` in the repository).
DEMO_CREDIT_FILES = ("qingpu.json", "wujiang.csv", "jiashan.json")
DEMO_CREDITS_PATH = Path(__file__).resolve().parents[1] / "examples" / "credits"
#: (project, farm code in the registry file, staff username of the registered farm)
DEMO_FARM_LINKS = (
    ("YRDCI-QP-2023-001", "QP-LT-02", "lianta_coop"),
    ("YRDCI-QP-2023-001", "QP-JX-03", "lu_farm"),
    ("YRDCI-WJ-2023-002", "WJ-ZZ-02", "shen_farm"),
    ("YRDCI-JS-2024-003", "JS-YZ-01", "yaozhuang_coop"),
    ("YRDCI-JS-2024-003", "JS-XT-02", "zhou_farm"),
)
#: (reference, beneficiary organisation's USCC (None: the platform, which runs the
#: personal-offset programme), beneficiary as the registry writes it, purpose, retired on,
#: [(batch's first serial, tonnes)]). Each enterprise's lots draw on its own retirements only.
DEMO_RETIREMENTS = (
    (
        "YRDCI-R-2026-0001",
        "91310118MA1FL4XQ09",
        "青浦练塘大米有限公司",
        "练塘大米碳中和标签 2026 年第一批",
        date(2026, 10, 15),
        [(1_000_001, 300)],
    ),
    (
        "YRDCI-R-2026-0002",
        "91320509MA1NQ7K2TQ",
        "吴江同里米业有限公司",
        "同里香粳米碳中和标签",
        date(2026, 10, 28),
        [(2_000_001, 150), (3_000_001, 60)],
    ),
    (
        "YRDCI-R-2026-0003",
        None,
        "碳汇平台",
        "碳汇平台个人碳抵消计划 (personal-offset programme)",
        date(2026, 11, 2),
        [(2_000_001, 20)],
    ),
)


def seed(session: Session, *, hash_profile: str = "default") -> list[str]:
    """Create the demo platform staff and organisations; return one line per demo login."""
    platform = parties.platform_organisation(session)
    hashed = password_hash(DEMO_PASSWORD, hash_profile)
    lines: list[str] = []
    for username, role in DEMO_PLATFORM_STAFF:
        _staff(session, username=username, role=role, organisation=platform, hashed=hashed)
        lines.append(f"{role:<17} {username} / {DEMO_PASSWORD}")
    for kind, name, uscc, region_code, username in DEMO_ORGANISATIONS:
        organisation = session.scalars(
            sa.select(Organisation).where(Organisation.name == name)
        ).one_or_none()
        if organisation is None:
            organisation = Organisation(
                kind=kind,
                name=name,
                uscc=uscc,
                region_code=region_code,
                status="approved",
                approved_at=utcnow(),
            )
            session.add(organisation)
            session.flush()
        role = "enterprise_staff" if kind == "enterprise" else "farm_staff"
        _staff(session, username=username, role=role, organisation=organisation, hashed=hashed)
        lines.append(f"{role:<17} {username} / {DEMO_PASSWORD}  ({name})")
    session.flush()
    lines.extend(_credits(session))
    lines.extend(_labels(session))
    lines.extend(_application(session))
    lines.extend(_points(session))
    lines.extend(retail_lot_retired_on_payment(session, _certified_lot))
    return lines


#: The rules in force: 10 points a claimed unit (at most 100 a day), and operators' grants.
DEMO_RULES = (
    ("unit_claim", {"kind": "fixed", "points": 10}, 100),
    ("operator_grant", {"kind": "fixed", "points": 100}, None),
)
DEMO_ITEMS = (
    {"code": "OFFSET-1KG", "name_zh": "个人碳抵消 1 千克", "name_en": "Personal offset, 1 kg CO2e",
     "description": "由试点注销的农业碳汇抵消 1 千克二氧化碳当量，附证书。", "audience": "consumer",
     "kind": "personal_offset", "price_points": 50, "stock": 10_000, "offset_g_per_unit": 1000,
     "per_party_limit": 20},
    {"code": "RICE-1KG", "name_zh": "练塘有机大米 1 千克", "name_en": "Lianta organic rice, 1 kg",
     "description": "到店或随下次订单领取。", "audience": "consumer", "kind": "goods",
     "price_points": 300, "stock": 200, "per_party_limit": 2},
    {"code": "FARM-SEED", "name_zh": "优质稻种 5 千克", "name_en": "Rice seed, 5 kg",
     "audience": "farm", "kind": "goods", "price_points": 800, "stock": 100},
)  # fmt: skip
#: Consumers who use the mini-program (a WeChat identity each, linked by unionid, so the same
#: person signing in on a web page in WeChat's browser is the same user) and their grants.
DEMO_CONSUMERS = (
    ("小林", "o-demo-lin", "u-demo-lin", 480),
    ("阿梅", "o-demo-mei", "u-demo-mei", 260),
)


def _points(session: Session) -> list[str]:
    """Point rules, a catalogue, and two consumers with points (idempotent)."""
    now = utcnow()
    operator = session.scalars(sa.select(User).where(User.username == "operator")).one()
    for event_type, formula, cap_per_day in DEMO_RULES:
        if session.scalar(sa.select(PointRule.id).where(PointRule.event_type == event_type)):
            continue
        rules.rule_publish(session, event_type=event_type, user_id=operator.id, now=now,
                            values={"formula": formula, "cap_per_day": cap_per_day,
                                    "validity_days": 365})  # fmt: skip
    for values in DEMO_ITEMS:
        if not session.scalar(
            sa.select(CatalogueItem.id).where(CatalogueItem.code == values["code"])
        ):
            redemption.item_create(session, values=dict(values), now=now)
    appid = current_app.config["WECHAT_APPID"] or "wx-demo-miniprogram"
    lines = []
    for name, openid, unionid, granted in DEMO_CONSUMERS:
        identity = session.scalars(
            sa.select(WeChatIdentity).where(WeChatIdentity.unionid == unionid)
        ).first()
        if identity is None:
            user = parties.consumer_create(session, display_name=name)
            identity = WeChatIdentity(
                user_id=user.id, appid=appid, openid=openid, unionid=unionid,
                created_at=now, last_sign_in_at=now,
            )  # fmt: skip
            session.add(identity)
            session.flush()
        welcome = {"owner_type": "user", "owner_id": identity.user_id, "points": granted,
                   "reason": "试点欢迎积分"}  # fmt: skip
        grants.grant(session, **welcome, key=f"demo-welcome-{unionid}", user_id=operator.id,
                     request_sha256=idempotency.request_sha256(
                         method="POST", path="/api/v1/points/grants", query={}, body=welcome),
                     now=now)  # fmt: skip
        lines.append(f"consumer: {name} (WeChat unionid {unionid}), {granted} points")
    return lines


def _credits(session: Session) -> list[str]:
    """Import the pilot projects' credit files and record the retirements of Lianta, Tongli and
    the personal-offset programme, each in its own name (idempotent)."""
    now = utcnow()
    for name in DEMO_CREDIT_FILES:
        path = DEMO_CREDITS_PATH / name
        if not path.exists():
            return [f"credits: {path} not found; no demo credits"]
        credits.import_file(
            session,
            content=path.read_bytes(),
            file_format=path.suffix.lstrip("."),
            filename=name,
            now=now,
        )
    for project, farm_code, username in DEMO_FARM_LINKS:
        user = session.scalars(sa.select(User).where(User.username == username)).one()
        organisation_id = next(
            m.organisation_id for m in user.memberships if m.role == "farm_staff"
        )
        credits.farm_link(
            session,
            project_external_id=project,
            farm_code=farm_code,
            organisation_id=organisation_id,
        )
    for reference, uscc, beneficiary, purpose, retired_on, lines in DEMO_RETIREMENTS:
        organisation = (
            parties.platform_organisation(session)
            if uscc is None
            else session.scalars(sa.select(Organisation).where(Organisation.uscc == uscc)).one()
        )
        credits.retire(
            session,
            registry_code="YRD-CI",
            registry_reference=reference,
            beneficiary=beneficiary,
            beneficiary_organisation_id=organisation.id,
            purpose=purpose,
            retired_on=retired_on,
            lines=[
                credits.RetirementLine(
                    credit_selectors.batch_id_at(session, serial_start=serial), tonnes
                )
                for serial, tonnes in lines
            ],
            now=now,
        )
    figures = credit_selectors.registry_figures(session)
    return [f"credits: 3 pilot projects, {figures.batches} batches, {figures.retired_t} t retired"]


DEMO_GTIN = "06901234567892"
DEMO_LOT = "LT2026A"
DEMO_LOT_UNITS = 1_000


def _labels(session: Session) -> list[str]:
    """Lianta's 5 kg fragrant japonica: a declared footprint, a certified carbon-neutral label and
    an issued lot of 1,000 bags backed by retired Qingpu credits (idempotent)."""
    now = utcnow()
    staff = session.scalars(sa.select(User).where(User.username == "lianta")).one()
    product, label, lot = _certified_lot(
        session,
        staff,
        product={"gtin": DEMO_GTIN, "name": "练塘香粳米 5kg",
                 "name_en": "Lianta fragrant japonica rice, 5 kg", "net_content_g": 5000},
        footprint={
            "kg_per_unit": "6.25", "low_kg_per_unit": "5.6", "high_kg_per_unit": "7.1",
            "breakdown": {"paddy_ch4": "0.70", "fertiliser": "0.30", "drying_milling": "0.15",
                          "packaging_transport": "0.10"},
            "data_quality": {"primary_data_percent": 80},
            "verifier": "上海某认证有限公司（演示）",
            "report": {"title": "练塘香粳米碳足迹核查报告", "number": "DEMO-CFP-2025-01",
                       "issued_on": "2025-12-01"},
        },
        lot_number=DEMO_LOT,
        units=DEMO_LOT_UNITS,
        bank_reference="DEMO-BANK-0001",
        now=now,
    )  # fmt: skip
    config = current_app.config
    key = lots.lot_key_of(lot, product, config["UNIT_CODE_MASTER_KEYS"])
    base = config["PUBLIC_BASE_URL"].rstrip("/")
    return [
        f"label: {product.name}, {label.scheme} {label.certificate_number}, lot {lot.lot_number} "
        f"of {lot.units} units ({lot.status})",
        f"scan page: {base}/01/{product.gtin}/10/{lot.lot_number}/21/{serial_for(key, 0)}",
    ]


DEMO_APPLICATION_GTIN = "06901234567908"


def _application(session: Session) -> list[str]:
    """Tongli's 2.5 kg soft rice: a computed footprint and a carbon-footprint label application
    waiting for the certifier (idempotent)."""
    now = utcnow()
    staff = session.scalars(sa.select(User).where(User.username == "tongli")).one()
    principal = principal_for(staff)
    product, footprint = _product_with_footprint(
        session,
        staff,
        product={"gtin": DEMO_APPLICATION_GTIN, "name": "同里香软米 2.5kg",
                 "name_en": "Tongli soft rice, 2.5 kg", "net_content_g": 2500},
        footprint={
            "kg_per_unit": "3.05", "low_kg_per_unit": "2.7", "high_kg_per_unit": "3.5",
            "breakdown": {"paddy_ch4": "0.74", "fertiliser": "0.26", "drying_milling": "0.13",
                          "packaging_transport": "0.09"},
            "data_quality": {"primary_data_percent": 75},
            "verifier": "苏州某认证有限公司（演示）",
            "report": {"title": "同里香软米碳足迹核查报告", "number": "DEMO-CFP-2025-02",
                       "issued_on": "2025-12-10"},
        },
        now=now,
    )  # fmt: skip
    label = session.scalars(sa.select(Label).where(Label.product_id == product.id)).first()
    if label is None:
        label = certification.label_apply(
            session, principal=principal, product=product, footprint_id=footprint.id,
            scheme="footprint", markets=["CN", "HK", "DE"], now=now,
        )  # fmt: skip
    return [f"application: {product.name}, {label.scheme} label {label.status}"]


def _certified_lot(
    session: Session,
    staff: User,
    *,
    product: dict,
    footprint: dict,
    lot_number: str,
    units: int,
    bank_reference: str,
    now: datetime,
) -> tuple[Any, Any, Any]:
    """The staff member's product with its footprint, a certified carbon-neutral label for
    mainland China, and a lot of ``units`` ordered and paid by bank transfer (the demo operator
    confirms it), each created unless it exists."""
    principal = principal_for(staff)
    found, declared = _product_with_footprint(
        session, staff, product=product, footprint=footprint, now=now
    )
    label = session.scalars(sa.select(Label).where(Label.product_id == found.id)).first()
    if label is None:
        label = certification.label_apply(
            session, principal=principal, product=found, footprint_id=declared.id,
            scheme="carbon_neutral", markets=["CN"], now=now,
        )  # fmt: skip
        certifier = session.scalars(sa.select(User).where(User.username == "certifier")).one()
        for status in ("under_review", "certified"):
            certification.label_transition(
                session, label=label, to_status=status, actor=principal_for(certifier), now=now
            )
    lot = session.scalars(sa.select(LabelLot).where(LabelLot.product_id == found.id)).first()
    if lot is None:
        config = current_app.config
        lot = lots.lot_order(
            session, principal=principal, label=label, lot_number=lot_number, units=units,
            pricing=lots.Pricing.from_config(config), key_id=config["UNIT_CODE_KEY_ID"], now=now,
        )  # fmt: skip
        lots.lot_payment_confirm(
            session, lot=lot, provider="offline", reference=bank_reference,
            amount_fen=lot.amount_fen, now=now,
        )  # fmt: skip
    return found, label, lot


def _product_with_footprint(
    session: Session, staff: User, *, product: dict, footprint: dict, now: datetime
) -> tuple[Any, Any]:
    """The staff member's milled-rice product and its declared cradle-to-gate footprint for the
    2025 season, created unless they exist (by GTIN)."""
    principal = principal_for(staff)
    found = session.scalars(sa.select(Product).where(Product.gtin == product["gtin"])).first()
    if found is None:
        found = products.product_create(
            session,
            principal=principal,
            organisation_id=next(m.organisation_id for m in staff.memberships),
            values={"category": "milled_rice", "declared_unit": "unit", **product},
        )
    declared = session.scalars(sa.select(Footprint).where(Footprint.product_id == found.id)).first()
    if declared is None:
        declared = certification.footprint_declare(
            session,
            principal=principal,
            product=found,
            values={"boundary": "cradle_to_gate", "gwp_set": "AR5",
                    "period_start": date(2025, 5, 1), "period_end": date(2025, 10, 31),
                    **footprint},
            now=now,
        )  # fmt: skip
    return found, declared


def _staff(
    session: Session, *, username: str, role: str, organisation: Organisation, hashed: str
) -> User:
    """A demo staff user holding ``role``. Seeding is an operator's administrative act, so the
    membership is made directly, not by an invitation the user accepts (as over the API)."""
    user = session.scalars(sa.select(User).where(User.username == username)).one_or_none()
    if user is None:
        return parties.staff_create(
            session,
            username=username,
            password_hash=hashed,
            role=role,
            organisation=organisation,
            display_name=username,
        )
    parties.membership_grant(
        session, user_id=user.id, organisation=organisation, role=role, granted_by_user_id=None
    )
    return user
