"""Reductions of farm practice records: pure functions from a season's practice data to kg CO2e,
with the factors used and their sources (the table in ``labels.factors``).

These numbers are **information only**: they tell a farm what its practice is likely worth in the
IPCC Tier 1 model. They are never a carbon claim, never credits, and never enter the credit
ledger; only registry retirements make claims. Points for a practice follow the operator's rule.

Per hectare, for one season (IPCC 2019 Refinement, Vol 4 Ch 5 Eqs 5.1–5.3, Ch 11):

* intermittent irrigation: ``EF_c × SF_p × SF_o × t × (SF_w,baseline − SF_w,project) × GWP_CH4``
  less the direct N2O drainage adds: ``N × (EF1_drained − EF1_flooded) × 44/28 × GWP_N2O`` (when
  the baseline is continuous flooding; the Verra VM0051 convention of netting the N2O increase);
* straw handling: ``EF_c × SF_w × SF_p × t × (SF_o,baseline − SF_o,project) × GWP_CH4`` with
  ``SF_o = (1 + ROA × CFOA)^0.59``: straw incorporated less than 30 days before cultivation
  (the baseline) against straw incorporated earlier, or removed (ROA 0);
* nitrogen rate: ``(N_baseline − N_project) × (EF1 + Frac_GASF × EF4 + Frac_LEACH × EF5) × 44/28 ×
  GWP_N2O`` (fertiliser manufacture is left out: the table has no cited default for it).

Area is in mu (亩); 1 mu = 1/15 ha exactly. Results are rounded half-even to 0.0001 kg.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from labels.factors import FACTOR_TABLE_VERSION, FACTORS, GWP_SETS, N2O_PER_N, PRE_SEASON_REGIMES
from labels.formulas import InputInvalid
from service.base.exceptions import FieldMessage

MU_PER_HA = Decimal(15)
AREA_MU_MAX = Decimal(100_000)
STRAW_T_PER_HA_MAX = Decimal(30)
NITROGEN_KG_PER_HA_MAX = Decimal(450)
CULTIVATION_DAYS = (Decimal(60), Decimal(180))
DRAINED_REGIMES = ("single_drainage", "multiple_drainage")
STRAW_PROJECTS = ("straw_early", "removed")
INFORMATION_ONLY = (
    "Information only: an IPCC Tier 1 estimate of this practice, not a carbon claim and not a "
    "credit. Only registry retirements back claims."
)
_KG = Decimal("0.0001")


@dataclass(frozen=True)
class Reduction:
    """kg CO2e a practice avoids in one season on its area (information only)."""

    practice: str
    kg_co2e: Decimal
    kg_co2e_per_ha: Decimal
    area_ha: Decimal
    gwp_set: str
    factors: dict[str, dict[str, str]] = field(default_factory=dict)

    def basis(self) -> dict[str, Any]:
        return {
            "practice": self.practice,
            "kg_co2e_per_ha": str(self.kg_co2e_per_ha),
            "area_ha": str(self.area_ha),
            "gwp_set": self.gwp_set,
            "factor_table_version": FACTOR_TABLE_VERSION,
            "factors": self.factors,
            "note": INFORMATION_ONLY,
        }


class _Inputs:
    """Reads and checks one practice's JSON inputs, naming the field of any problem."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        if not isinstance(values, Mapping):
            raise InputInvalid("inputs", "Not a valid mapping type.")
        self.values = values
        self.used: dict[str, dict[str, str]] = {}

    def number(self, name: str, low: Decimal, high: Decimal, default: Any = None) -> Decimal:
        value = self.values.get(name, default)
        if value is None:
            raise InputInvalid(f"inputs.{name}", "Missing data for required field.")
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise InputInvalid(f"inputs.{name}", "Not a valid number.")
        try:
            result = Decimal(str(value))
        except ArithmeticError:
            raise InputInvalid(f"inputs.{name}", "Not a valid number.") from None
        if not result.is_finite() or not low <= result <= high:
            raise InputInvalid(
                f"inputs.{name}",
                FieldMessage("Must be between {low} and {high}.", low=low, high=high),
            )
        return result

    def choice(self, name: str, allowed: tuple[str, ...], default: str | None = None) -> str:
        value = self.values.get(name, default)
        if value not in allowed:
            raise InputInvalid(
                f"inputs.{name}",
                FieldMessage("Must be one of: {allowed}.", allowed=", ".join(allowed)),
            )
        return str(value)

    def factor(self, key: str) -> Decimal:
        factor = FACTORS[key]
        self.used[key] = {"value": str(factor.value), "unit": factor.unit, "source": factor.source}
        return factor.value


def _sf_o(inputs: _Inputs, straw_t_per_ha: Decimal, cfoa_key: str | None) -> Decimal:
    if cfoa_key is None or straw_t_per_ha == 0:
        return Decimal(1)
    exponent = inputs.factor("ch4.sf_o.exponent")
    return (1 + straw_t_per_ha * inputs.factor(cfoa_key)) ** exponent


def _ch4_per_ha(inputs: _Inputs) -> tuple[Decimal, Decimal]:
    """(EF_c × SF_p × cultivation days, GWP_CH4): what every CH4 difference is multiplied by."""
    days = inputs.number("cultivation_days", *CULTIVATION_DAYS)
    pre_season = inputs.choice("pre_season", PRE_SEASON_REGIMES, "non_flooded_short")
    gwp = inputs.choice("gwp_set", GWP_SETS, "AR5")
    scale = inputs.factor("ch4.ef_c.east_asia") * inputs.factor(f"ch4.sf_p.{pre_season}") * days
    return scale, inputs.factor(f"gwp.{gwp}.ch4")


def _intermittent_irrigation(inputs: _Inputs) -> Decimal:
    scale, gwp_ch4 = _ch4_per_ha(inputs)
    baseline = inputs.choice(
        "baseline_regime", ("continuously_flooded", "single_drainage"), "continuously_flooded"
    )
    project = inputs.choice("project_regime", DRAINED_REGIMES)
    sf_w_baseline = inputs.factor(f"ch4.sf_w.{baseline}")
    sf_w_project = inputs.factor(f"ch4.sf_w.{project}")
    if sf_w_project >= sf_w_baseline:
        raise InputInvalid("inputs.project_regime", "Must drain more than the baseline.")
    straw = inputs.number("straw_t_per_ha", Decimal(0), STRAW_T_PER_HA_MAX, 0)
    sf_o = _sf_o(inputs, straw, "ch4.cfoa.straw_recent")
    ch4 = scale * sf_o * (sf_w_baseline - sf_w_project) * gwp_ch4
    nitrogen = inputs.number("synthetic_n_kg_per_ha", Decimal(0), NITROGEN_KG_PER_HA_MAX, 0)
    n2o_increase = Decimal(0)
    if baseline == "continuously_flooded" and nitrogen:
        gwp_n2o = inputs.factor(f"gwp.{inputs.values.get('gwp_set', 'AR5')}.n2o")
        n2o_increase = (
            nitrogen
            * (inputs.factor("n2o.ef1.drained") - inputs.factor("n2o.ef1.continuously_flooded"))
            * N2O_PER_N
            * gwp_n2o
        )
    return ch4 - n2o_increase


def _straw_handling(inputs: _Inputs) -> Decimal:
    scale, gwp_ch4 = _ch4_per_ha(inputs)
    regime = inputs.choice(
        "water_regime", ("continuously_flooded", *DRAINED_REGIMES), "continuously_flooded"
    )
    straw = inputs.number("straw_t_per_ha", Decimal("0.1"), STRAW_T_PER_HA_MAX)
    project = inputs.choice("project", STRAW_PROJECTS)
    baseline_sf_o = _sf_o(inputs, straw, "ch4.cfoa.straw_recent")
    project_sf_o = _sf_o(
        inputs, straw, "ch4.cfoa.straw_early" if project == "straw_early" else None
    )
    return scale * inputs.factor(f"ch4.sf_w.{regime}") * (baseline_sf_o - project_sf_o) * gwp_ch4


def _nitrogen_rate(inputs: _Inputs) -> Decimal:
    gwp = inputs.choice("gwp_set", GWP_SETS, "AR5")
    regime = inputs.choice(
        "water_regime", ("continuously_flooded", *DRAINED_REGIMES), "continuously_flooded"
    )
    baseline = inputs.number("baseline_n_kg_per_ha", Decimal(0), NITROGEN_KG_PER_HA_MAX)
    project = inputs.number("project_n_kg_per_ha", Decimal(0), NITROGEN_KG_PER_HA_MAX)
    if project >= baseline:
        raise InputInvalid("inputs.project_n_kg_per_ha", "Must be below the baseline rate.")
    ef1 = inputs.factor(
        "n2o.ef1.continuously_flooded" if regime == "continuously_flooded" else "n2o.ef1.drained"
    )
    per_kg_n = (
        ef1
        + inputs.factor("n2o.frac_gasf") * inputs.factor("n2o.ef4.wet")
        + inputs.factor("n2o.frac_leach") * inputs.factor("n2o.ef5")
    )
    return (baseline - project) * per_kg_n * N2O_PER_N * inputs.factor(f"gwp.{gwp}.n2o")


PRACTICE_FORMULAS = {
    "intermittent_irrigation": _intermittent_irrigation,
    "straw_handling": _straw_handling,
    "nitrogen_rate": _nitrogen_rate,
}


def practice_reduction(practice: str, area_mu: Decimal, inputs: Mapping[str, Any]) -> Reduction:
    """The reduction a practice on ``area_mu`` mu gives in one season (information only);
    raises ``InputInvalid`` naming the field."""
    if practice not in PRACTICE_FORMULAS:
        raise InputInvalid(
            "practice",
            FieldMessage("Must be one of: {choices}.", choices=", ".join(PRACTICE_FORMULAS)),
        )
    if (
        not isinstance(area_mu, Decimal)
        or not area_mu.is_finite()
        or not 0 < area_mu <= AREA_MU_MAX
    ):
        raise InputInvalid(
            "area_mu",
            FieldMessage("Must be more than 0 and at most {area_mu_max}.", area_mu_max=AREA_MU_MAX),
        )
    reader = _Inputs(inputs)
    per_ha = PRACTICE_FORMULAS[practice](reader)
    area_ha = area_mu / MU_PER_HA
    return Reduction(
        practice=practice,
        kg_co2e=(per_ha * area_ha).quantize(_KG, rounding=ROUND_HALF_EVEN),
        kg_co2e_per_ha=per_ha.quantize(_KG, rounding=ROUND_HALF_EVEN),
        area_ha=area_ha.quantize(_KG, rounding=ROUND_HALF_EVEN),
        gwp_set=str(inputs.get("gwp_set", "AR5")),
        factors=reader.used,
    )
