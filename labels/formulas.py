"""The YRD rice footprint calculator: pure functions from farm and mill activity data to kg CO2e
per kg of milled rice and per declared unit, with a breakdown by stage and an uncertainty range.

Formulas (factors and their sources in ``labels.factors``):

* paddy CH4, IPCC 2019 Eqs 5.1–5.3: ``EF = EF_c × SF_w × SF_p × SF_o``, ``SF_o = (1 + Σ ROA_i ×
  CFOA_i)^e``, CH4 per ha = EF × cultivation days;
* direct N2O = (F_SN + F_ON) × EF1 × 44/28, with EF1 for flooded rice by water regime; indirect
  N2O = (F_SN × Frac_GASF × EF4 + (F_SN + F_ON) × Frac_LEACH × EF5) × 44/28; urea CO2 = urea ×
  0.20 × 44/12 (Eq 11.13);
* fertiliser manufacture, packaging and freight by the enterprise's own cited factors; diesel and
  electricity (irrigation, drying, milling) by the table's.

Allocation: everything upstream of milling is carried by the milled rice (bran and husk carry
nothing). That is the conservative choice; state it beside any number shown.

The range comes from evaluating every tabled factor at its low and at its high end (each enters
with a positive sign, so those are the extremes); inputs are taken as given. Activity data
outside the ``LIMITS`` is refused with the field named.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Decimal
from typing import Any

from labels.factors import (
    AMENDMENTS,
    CO2_PER_C,
    FACTOR_TABLE_VERSION,
    FACTORS,
    GWP_SETS,
    N2O_PER_N,
    PRE_SEASON_REGIMES,
    UREA_N_FRACTION,
    WATER_REGIMES,
    Factor,
)
from service.base.exceptions import FieldMessage

#: Valid ranges of activity data: (low, high) inclusive, in the field's own unit.
LIMITS: dict[str, tuple[Decimal, Decimal]] = {
    name: (Decimal(low), Decimal(high))
    for name, (low, high) in {
        "cultivation_days": ("60", "180"),
        "amendment_t_per_ha": ("0", "30"),
        "synthetic_n_kg_per_ha": ("0", "450"),
        "urea_kg_per_ha": ("0", "1000"),
        "organic_n_kg_per_ha": ("0", "300"),
        "diesel_l_per_ha": ("0", "300"),
        "electricity_kwh_per_ha": ("0", "3000"),
        "paddy_yield_kg_per_ha": ("2000", "15000"),
        "milled_yield_fraction": ("0.50", "0.80"),
        "drying_kwh_per_t_paddy": ("0", "300"),
        "milling_kwh_per_t_milled": ("0", "300"),
        "packaging_kg_per_unit": ("0", "5"),
        "freight_tkm_per_unit": ("0", "100"),
        "unit_mass_kg": ("0.1", "50"),
        "fertiliser_kgco2e_per_kg_n": ("0", "30"),
        "packaging_kgco2e_per_kg": ("0", "20"),
        "freight_kgco2e_per_tkm": ("0", "2"),
    }.items()
}
AMENDMENTS_MAX = 5
STAGES = (
    "paddy_ch4",
    "n2o_direct",
    "n2o_indirect",
    "urea_co2",
    "fertiliser_manufacture",
    "farm_energy",
    "drying_milling",
    "packaging",
    "transport",
)
_KG = Decimal("0.0001")


class InputInvalid(ValueError):
    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


@dataclass(frozen=True)
class CitedFactor:
    """A factor the enterprise supplies, with where it comes from."""

    value: Decimal
    source: str


@dataclass(frozen=True)
class RiceActivity:
    cultivation_days: Decimal
    water_regime: str
    pre_season: str
    paddy_yield_kg_per_ha: Decimal
    milled_yield_fraction: Decimal
    unit_mass_kg: Decimal
    amendments: Sequence[tuple[str, Decimal]] = ()
    synthetic_n_kg_per_ha: Decimal = Decimal(0)
    urea_kg_per_ha: Decimal = Decimal(0)
    organic_n_kg_per_ha: Decimal = Decimal(0)
    diesel_l_per_ha: Decimal = Decimal(0)
    electricity_kwh_per_ha: Decimal = Decimal(0)
    drying_kwh_per_t_paddy: Decimal = Decimal(0)
    milling_kwh_per_t_milled: Decimal = Decimal(0)
    packaging_kg_per_unit: Decimal = Decimal(0)
    freight_tkm_per_unit: Decimal = Decimal(0)
    fertiliser_kgco2e_per_kg_n: CitedFactor | None = None
    packaging_kgco2e_per_kg: CitedFactor | None = None
    freight_kgco2e_per_tkm: CitedFactor | None = None
    gwp_set: str = "AR5"


@dataclass(frozen=True)
class Footprint:
    """kg CO2e per kg milled rice by stage, totals, range, and what it was computed from."""

    stages_kg_per_kg: dict[str, Decimal]
    total_kg_per_kg: Decimal
    low_kg_per_kg: Decimal
    high_kg_per_kg: Decimal
    total_kg_per_unit: Decimal
    low_kg_per_unit: Decimal
    high_kg_per_unit: Decimal
    gwp_set: str
    factor_table_version: str
    factors: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def total_g_per_unit(self) -> int:
        """Grams CO2e per unit rounded up: what offsetting one unit takes."""
        return int((self.total_kg_per_unit * 1000).to_integral_value(rounding=ROUND_CEILING))


def _check(activity: RiceActivity) -> None:
    def within(name: str, value: Any, limit: str | None = None) -> None:
        low, high = LIMITS[limit or name]
        if not isinstance(value, Decimal) or not value.is_finite():
            raise InputInvalid(name, "Not a valid number.")
        if not low <= value <= high:
            raise InputInvalid(
                name, FieldMessage("Must be between {low} and {high}.", low=low, high=high)
            )

    for name in (
        "cultivation_days",
        "paddy_yield_kg_per_ha",
        "milled_yield_fraction",
        "unit_mass_kg",
        "synthetic_n_kg_per_ha",
        "urea_kg_per_ha",
        "organic_n_kg_per_ha",
        "diesel_l_per_ha",
        "electricity_kwh_per_ha",
        "drying_kwh_per_t_paddy",
        "milling_kwh_per_t_milled",
        "packaging_kg_per_unit",
        "freight_tkm_per_unit",
    ):
        within(name, getattr(activity, name))
    choices = {
        "water_regime": WATER_REGIMES,
        "pre_season": PRE_SEASON_REGIMES,
        "gwp_set": GWP_SETS,
    }
    for name, allowed in choices.items():
        if getattr(activity, name) not in allowed:
            raise InputInvalid(
                name, FieldMessage("Must be one of: {allowed}.", allowed=", ".join(allowed))
            )
    if len(activity.amendments) > AMENDMENTS_MAX:
        raise InputInvalid(
            "amendments", FieldMessage("At most {amendments_max}.", amendments_max=AMENDMENTS_MAX)
        )
    for index, (kind, rate) in enumerate(activity.amendments):
        if kind not in AMENDMENTS:
            raise InputInvalid(
                f"amendments.{index}.kind",
                FieldMessage("Must be one of: {choices}.", choices=", ".join(AMENDMENTS)),
            )
        within(f"amendments.{index}.t_per_ha", rate, "amendment_t_per_ha")
    if activity.urea_kg_per_ha * UREA_N_FRACTION > activity.synthetic_n_kg_per_ha:
        raise InputInvalid(
            "urea_kg_per_ha", "Urea carries more nitrogen than the synthetic N declared."
        )
    needs = {
        "fertiliser_kgco2e_per_kg_n": activity.synthetic_n_kg_per_ha > 0,
        "packaging_kgco2e_per_kg": activity.packaging_kg_per_unit > 0,
        "freight_kgco2e_per_tkm": activity.freight_tkm_per_unit > 0,
    }
    for name, needed in needs.items():
        cited = getattr(activity, name)
        if cited is None:
            if needed:
                raise InputInvalid(name, "Required, with its source, for the activity declared.")
            continue
        within(name, cited.value)
        if not cited.source.strip():
            raise InputInvalid(f"{name}.source", "Say where the factor comes from.")


def _stages(activity: RiceActivity, pick: str) -> dict[str, Decimal]:
    """kg CO2e per kg milled rice by stage, every tabled factor at ``pick`` (value/low/high)."""

    def f(key: str) -> Decimal:
        factor: Factor = FACTORS[key]
        return getattr(factor, pick)

    gwp_ch4, gwp_n2o = f(f"gwp.{activity.gwp_set}.ch4"), f(f"gwp.{activity.gwp_set}.n2o")
    # Eqs 5.2, 5.3 and 5.1 (per hectare, kg CH4 per season).
    organic = sum((rate * f(f"ch4.cfoa.{kind}") for kind, rate in activity.amendments), Decimal(0))
    sf_o = (1 + organic) ** f("ch4.sf_o.exponent")
    ef = (
        f("ch4.ef_c.east_asia")
        * f(f"ch4.sf_w.{activity.water_regime}")
        * f(f"ch4.sf_p.{activity.pre_season}")
        * sf_o
    )
    ch4_kg_per_ha = ef * activity.cultivation_days
    # Chapter 11: N2O and urea CO2 per hectare.
    synthetic, organic_n = activity.synthetic_n_kg_per_ha, activity.organic_n_kg_per_ha
    ef1 = f(
        "n2o.ef1.continuously_flooded"
        if activity.water_regime == "continuously_flooded"
        else "n2o.ef1.drained"
    )
    n2o_direct = (synthetic + organic_n) * ef1 * N2O_PER_N
    n2o_indirect = (
        synthetic * f("n2o.frac_gasf") * f("n2o.ef4.wet")
        + (synthetic + organic_n) * f("n2o.frac_leach") * f("n2o.ef5")
    ) * N2O_PER_N
    urea_co2 = activity.urea_kg_per_ha * f("co2.urea") * CO2_PER_C
    grid = f("energy.electricity.east_china")
    per_ha = {
        "paddy_ch4": ch4_kg_per_ha * gwp_ch4,
        "n2o_direct": n2o_direct * gwp_n2o,
        "n2o_indirect": n2o_indirect * gwp_n2o,
        "urea_co2": urea_co2,
        "fertiliser_manufacture": synthetic
        * (activity.fertiliser_kgco2e_per_kg_n.value if activity.fertiliser_kgco2e_per_kg_n else 0),
        "farm_energy": activity.diesel_l_per_ha * f("energy.diesel")
        + activity.electricity_kwh_per_ha * grid,
    }
    milled_kg_per_ha = activity.paddy_yield_kg_per_ha * activity.milled_yield_fraction
    stages = {name: value / milled_kg_per_ha for name, value in per_ha.items()}
    stages["drying_milling"] = (
        (
            activity.drying_kwh_per_t_paddy / activity.milled_yield_fraction
            + activity.milling_kwh_per_t_milled
        )
        * grid
        / 1000
    )
    packaging = activity.packaging_kg_per_unit * (
        activity.packaging_kgco2e_per_kg.value if activity.packaging_kgco2e_per_kg else 0
    )
    freight = activity.freight_tkm_per_unit * (
        activity.freight_kgco2e_per_tkm.value if activity.freight_kgco2e_per_tkm else 0
    )
    stages["packaging"] = packaging / activity.unit_mass_kg
    stages["transport"] = freight / activity.unit_mass_kg
    return stages


def _round(value: Decimal) -> Decimal:
    return value.quantize(_KG, rounding=ROUND_HALF_EVEN)


def rice_footprint(activity: RiceActivity) -> Footprint:
    """The footprint of milled rice from ``activity``; raises ``InputInvalid`` naming the field."""
    _check(activity)
    central = _stages(activity, "value")
    low = sum(_stages(activity, "low").values(), Decimal(0))
    high = sum(_stages(activity, "high").values(), Decimal(0))
    total = sum(central.values(), Decimal(0))
    unit = activity.unit_mass_kg
    used = {
        key: {"value": str(factor.value), "low": str(factor.low), "high": str(factor.high),
              "unit": factor.unit, "source": factor.source}
        for key, factor in FACTORS.items()
        if _used(key, activity)
    }  # fmt: skip
    for name in ("fertiliser_kgco2e_per_kg_n", "packaging_kgco2e_per_kg", "freight_kgco2e_per_tkm"):
        cited = getattr(activity, name)
        if cited is not None:
            used[f"input.{name}"] = {"value": str(cited.value), "source": cited.source}
    return Footprint(
        stages_kg_per_kg={name: _round(central[name]) for name in STAGES},
        total_kg_per_kg=_round(total),
        low_kg_per_kg=_round(low),
        high_kg_per_kg=_round(high),
        total_kg_per_unit=_round(total * unit),
        low_kg_per_unit=_round(low * unit),
        high_kg_per_unit=_round(high * unit),
        gwp_set=activity.gwp_set,
        factor_table_version=FACTOR_TABLE_VERSION,
        factors=used,
    )


def _used(key: str, activity: RiceActivity) -> bool:
    kinds = {kind for kind, _ in activity.amendments}
    parts = key.split(".")
    if parts[0] == "gwp":
        return parts[1] == activity.gwp_set
    if parts[:2] == ["ch4", "sf_w"]:
        return parts[2] == activity.water_regime
    if parts[:2] == ["ch4", "sf_p"]:
        return parts[2] == activity.pre_season
    if parts[:2] == ["ch4", "cfoa"]:
        return parts[2] in kinds
    if parts[:2] == ["n2o", "ef1"]:
        flooded = activity.water_regime == "continuously_flooded"
        return (parts[2] == "continuously_flooded") == flooded
    return True


def activity_from_mapping(values: Mapping[str, Any]) -> RiceActivity:
    """Build a ``RiceActivity`` from JSON-shaped values (numbers as strings or numbers)."""

    def number(name: str, value: Any) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise InputInvalid(name, "Not a valid number.")
        try:
            result = Decimal(str(value))
        except ArithmeticError:
            raise InputInvalid(name, "Not a valid number.") from None
        if not result.is_finite():
            raise InputInvalid(name, "Not a valid number.")
        return result

    def cited(name: str) -> CitedFactor | None:
        value = values.get(name)
        if value is None:
            return None
        if not isinstance(value, Mapping) or not isinstance(value.get("source"), str):
            raise InputInvalid(name, "An object with value and source.")
        return CitedFactor(number(f"{name}.value", value.get("value")), value["source"])

    plain = {
        name: number(name, values[name])
        for name in LIMITS
        if name in values and name in RiceActivity.__dataclass_fields__
        and name not in ("fertiliser_kgco2e_per_kg_n", "packaging_kgco2e_per_kg",
                         "freight_kgco2e_per_tkm")
    }  # fmt: skip
    for name in (
        "cultivation_days",
        "paddy_yield_kg_per_ha",
        "milled_yield_fraction",
        "unit_mass_kg",
    ):
        if name not in plain:
            raise InputInvalid(name, "Missing data for required field.")
    amendments = values.get("amendments") or []
    if not isinstance(amendments, list):
        raise InputInvalid("amendments", "Not a valid list.")
    parsed = []
    for index, item in enumerate(amendments):
        if not isinstance(item, Mapping):
            raise InputInvalid(f"amendments.{index}", "Not a valid mapping type.")
        parsed.append(
            (str(item.get("kind")), number(f"amendments.{index}.t_per_ha", item.get("t_per_ha")))
        )
    return RiceActivity(
        water_regime=str(values.get("water_regime")),
        pre_season=str(values.get("pre_season")),
        gwp_set=str(values.get("gwp_set", "AR5")),
        amendments=tuple(parsed),
        fertiliser_kgco2e_per_kg_n=cited("fertiliser_kgco2e_per_kg_n"),
        packaging_kgco2e_per_kg=cited("packaging_kgco2e_per_kg"),
        freight_kgco2e_per_tkm=cited("freight_kgco2e_per_tkm"),
        **plain,
    )
