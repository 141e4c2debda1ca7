"""The name a person reads for each value of each enum they see, one table per enum.

The values are codes (``under_review``, ``cradle_to_gate``); a page shows ``value | name("enum")``,
which looks the English name up here and translates it with the enum's name as the gettext
context, so ``reserved`` can be "awaiting payment" for a lot and "reserved" for an order, and each
has its own Chinese in ``service/translations/zh_CN``. A test checks that each table covers its
enum's values and that every name has its Chinese.
"""

from __future__ import annotations


def NP_(enum: str, name: str) -> str:  # noqa: N802 - gettext's style of marker
    """Mark ``name`` for extraction under the context ``enum``; it is translated where shown."""
    del enum
    return name


NAMES: dict[str, dict[str, str]] = {
    "label_status": {
        "submitted": NP_("label_status", "submitted"),
        "under_review": NP_("label_status", "under review"),
        "certified": NP_("label_status", "certified"),
        "rejected": NP_("label_status", "rejected"),
        "suspended": NP_("label_status", "suspended"),
        "revoked": NP_("label_status", "revoked"),
        "expired": NP_("label_status", "expired"),
    },
    #: What the certifier's button does to a label: the status it moves the label to.
    "label_move": {
        "under_review": NP_("label_move", "Start review"),
        "certified": NP_("label_move", "Certify"),
        "rejected": NP_("label_move", "Reject"),
        "suspended": NP_("label_move", "Suspend"),
        "revoked": NP_("label_move", "Revoke"),
    },
    "label_scheme": {
        "footprint": NP_("label_scheme", "footprint label"),
        "low_carbon": NP_("label_scheme", "low-carbon label"),
        "carbon_neutral": NP_("label_scheme", "carbon-neutral label"),
    },
    #: Where a labelled product is sold (``labels.markets.MARKETS``).
    "market": {
        "CN": NP_("market", "mainland China"),
        "HK": NP_("market", "Hong Kong, China"),
        "MO": NP_("market", "Macao, China"),
        "SG": NP_("market", "Singapore"),
        "MY": NP_("market", "Malaysia"),
        "TH": NP_("market", "Thailand"),
        "VN": NP_("market", "Viet Nam"),
        "JP": NP_("market", "Japan"),
        "KR": NP_("market", "Republic of Korea"),
        "AU": NP_("market", "Australia"),
        "NZ": NP_("market", "New Zealand"),
        "US": NP_("market", "United States"),
        "CA": NP_("market", "Canada"),
        "GB": NP_("market", "United Kingdom"),
        "CH": NP_("market", "Switzerland"),
        "NO": NP_("market", "Norway"),
        "EU": NP_("market", "European Union (whole market)"),
        "AT": NP_("market", "Austria"),
        "BE": NP_("market", "Belgium"),
        "BG": NP_("market", "Bulgaria"),
        "HR": NP_("market", "Croatia"),
        "CY": NP_("market", "Cyprus"),
        "CZ": NP_("market", "Czechia"),
        "DK": NP_("market", "Denmark"),
        "EE": NP_("market", "Estonia"),
        "FI": NP_("market", "Finland"),
        "FR": NP_("market", "France"),
        "DE": NP_("market", "Germany"),
        "GR": NP_("market", "Greece"),
        "HU": NP_("market", "Hungary"),
        "IE": NP_("market", "Ireland"),
        "IT": NP_("market", "Italy"),
        "LV": NP_("market", "Latvia"),
        "LT": NP_("market", "Lithuania"),
        "LU": NP_("market", "Luxembourg"),
        "MT": NP_("market", "Malta"),
        "NL": NP_("market", "Netherlands"),
        "PL": NP_("market", "Poland"),
        "PT": NP_("market", "Portugal"),
        "RO": NP_("market", "Romania"),
        "SK": NP_("market", "Slovakia"),
        "SI": NP_("market", "Slovenia"),
        "ES": NP_("market", "Spain"),
        "SE": NP_("market", "Sweden"),
    },
    "footprint_method": {
        "declared": NP_("footprint_method", "verified report"),
        "computed": NP_("footprint_method", "computed"),
    },
    "footprint_boundary": {
        "cradle_to_gate": NP_("footprint_boundary", "cradle to gate"),
        "cradle_to_grave": NP_("footprint_boundary", "cradle to grave"),
        "farm_gate": NP_("footprint_boundary", "to the farm gate"),
    },
    "footprint_stage": {
        "paddy_ch4": NP_("footprint_stage", "Paddy methane"),
        "n2o_direct": NP_("footprint_stage", "Direct N₂O"),
        "n2o_indirect": NP_("footprint_stage", "Indirect N₂O"),
        "urea_co2": NP_("footprint_stage", "Urea CO₂"),
        "fertiliser_manufacture": NP_("footprint_stage", "Fertiliser manufacture"),
        "fertiliser": NP_("footprint_stage", "Fertiliser"),
        "farm_energy": NP_("footprint_stage", "Farm machinery and irrigation"),
        "drying_milling": NP_("footprint_stage", "Drying and milling"),
        "packaging": NP_("footprint_stage", "Packaging"),
        "transport": NP_("footprint_stage", "Transport"),
        "packaging_transport": NP_("footprint_stage", "Packaging and transport"),
    },
    "declared_unit": {
        "kg": NP_("declared_unit", "kg"),
        "unit": NP_("declared_unit", "unit"),
    },
    "product_category": {
        "milled_rice": NP_("product_category", "milled rice"),
        "brown_rice": NP_("product_category", "brown rice"),
        "glutinous_rice": NP_("product_category", "glutinous rice"),
        "rice_flour": NP_("product_category", "rice flour"),
        "other": NP_("product_category", "other"),
    },
    "lot_status": {
        "reserved": NP_("lot_status", "awaiting payment"),
        "paid": NP_("lot_status", "paid"),
        "retiring": NP_("lot_status", "paid, retiring"),
        "issued": NP_("lot_status", "issued"),
        "cancelled": NP_("lot_status", "cancelled"),
    },
    "lot_retirement_status": {
        "pending": NP_("lot_retirement_status", "waiting for the registry"),
        "retired": NP_("lot_retirement_status", "retired by the registry"),
        "refused": NP_("lot_retirement_status", "refused by the registry"),
    },
    "payment_provider": {
        "offline": NP_("payment_provider", "bank transfer"),
        "wechatpay": NP_("payment_provider", "WeChat Pay"),
    },
    "organisation_kind": {
        "enterprise": NP_("organisation_kind", "enterprise"),
        "farm": NP_("organisation_kind", "farm"),
        "cooperative": NP_("organisation_kind", "cooperative"),
        "platform": NP_("organisation_kind", "platform"),
    },
    "organisation_status": {
        "pending": NP_("organisation_status", "pending"),
        "approved": NP_("organisation_status", "approved"),
        "suspended": NP_("organisation_status", "suspended"),
    },
    "role": {
        "consumer": NP_("role", "consumer"),
        "enterprise_staff": NP_("role", "enterprise staff"),
        "farm_staff": NP_("role", "farm staff"),
        "operator": NP_("role", "operator"),
        "certifier": NP_("role", "certifier"),
        "auditor": NP_("role", "auditor"),
    },
    "publication_kind": {
        "policy": NP_("publication_kind", "policy"),
        "announcement": NP_("publication_kind", "announcement"),
    },
    "publication_status": {
        "draft": NP_("publication_status", "draft"),
        "published": NP_("publication_status", "published"),
        "withdrawn": NP_("publication_status", "withdrawn"),
    },
    "points_event": {
        "unit_claim": NP_("points_event", "unit claim"),
        "label_purchase": NP_("points_event", "label purchase"),
        "farm_share": NP_("points_event", "farm share"),
        "farm_practice": NP_("points_event", "farm practice"),
        "operator_grant": NP_("points_event", "operator grant"),
    },
    #: The kinds of points entries a member sees in their history.
    "points_entry": {
        "points_unit_claim": NP_("points_entry", "unit claimed"),
        "points_label_purchase": NP_("points_entry", "labelled purchase"),
        "points_operator_grant": NP_("points_entry", "granted"),
        "points_redeem": NP_("points_entry", "redeemed"),
        "expiry": NP_("points_entry", "expired"),
    },
    "points_formula": {
        "fixed": NP_("points_formula", "fixed points each time"),
        "per_kg_co2e": NP_("points_formula", "points per kg CO2e"),
        "per_fen": NP_("points_formula", "points per 100 fen (CNY 1)"),
        "per_mu": NP_("points_formula", "points per mu"),
    },
    "item_audience": {
        "consumer": NP_("item_audience", "consumers"),
        "farm": NP_("item_audience", "farms"),
        "enterprise": NP_("item_audience", "enterprises"),
    },
    "item_kind": {
        "goods": NP_("item_kind", "goods"),
        "voucher": NP_("item_kind", "voucher"),
        "personal_offset": NP_("item_kind", "personal offset"),
    },
    "order_status": {
        "reserved": NP_("order_status", "reserved"),
        "fulfilled": NP_("order_status", "fulfilled"),
        "cancelled": NP_("order_status", "cancelled"),
    },
    "payout_status": {
        "requested": NP_("payout_status", "requested"),
        "approved": NP_("payout_status", "approved"),
        "rejected": NP_("payout_status", "rejected"),
        "exported": NP_("payout_status", "exported"),
    },
    "payout_method": {
        "bank": NP_("payout_method", "bank transfer"),
        "wechat": NP_("payout_method", "WeChat transfer"),
    },
    "practice": {
        "intermittent_irrigation": NP_("practice", "intermittent irrigation"),
        "straw_handling": NP_("practice", "straw handling"),
        "nitrogen_rate": NP_("practice", "nitrogen rate"),
    },
    "practice_status": {
        "submitted": NP_("practice_status", "submitted"),
        "verified": NP_("practice_status", "verified"),
        "rejected": NP_("practice_status", "rejected"),
    },
    "flag_kind": {
        "claims_many_regions": NP_("flag_kind", "claims from many regions in a day"),
        "claims_burst": NP_("flag_kind", "a burst of claims"),
    },
    "flag_status": {
        "open": NP_("flag_status", "open"),
        "dismissed": NP_("flag_status", "dismissed"),
        "confirmed": NP_("flag_status", "confirmed"),
    },
}

#: The parameters of error messages that hold an enum's value, named in the reader's language.
PARAM_ENUMS: dict[str, dict[str, str]] = {
    "lot_state_conflict": {"status": "lot_status"},
    "label_not_certified": {"status": "label_status"},
    "claim_code_revoked": {"status": "label_status"},
    "label_transition_refused": {"from": "label_status", "to": "label_status"},
    "publication_status_refused": {"from": "publication_status", "to": "publication_status"},
    "order_state_conflict": {"status": "order_status"},
    "payout_state_conflict": {"status": "payout_status"},
    "practice_decided": {"status": "practice_status"},
    "flag_resolved": {"status": "flag_status"},
}
