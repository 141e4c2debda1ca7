"""The factor table of the YRD rice footprint calculator: every default with its unit, its range
and its source. One version string names the whole table; every calculation records it.

Defaults are only values with a primary citation. Factors the pilot has no cited default for
(fertiliser manufacture, packaging material, freight) are inputs: the enterprise supplies the
value with its own source, and the calculation records both.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

FACTOR_TABLE_VERSION = "tanhui-yrd-rice/2026.1"
IPCC_2019_CH5 = "IPCC 2019 Refinement, Vol 4 Ch 5 §5.5"
IPCC_2019_CH11 = "IPCC 2019 Refinement, Vol 4 Ch 11"


@dataclass(frozen=True)
class Factor:
    value: Decimal
    low: Decimal
    high: Decimal
    unit: str
    source: str


def _factor(value: str, unit: str, source: str, low: str | None = None, high: str | None = None):
    return Factor(Decimal(value), Decimal(low or value), Decimal(high or value), unit, source)


WATER_REGIMES = ("continuously_flooded", "single_drainage", "multiple_drainage")
PRE_SEASON_REGIMES = (
    "non_flooded_short",  # not flooded for < 180 days before cultivation
    "non_flooded_long",  # not flooded for > 180 days
    "flooded_long",  # flooded for > 30 days
    "non_flooded_over_year",  # not flooded for > 365 days
)
AMENDMENTS = ("straw_recent", "straw_early", "compost", "farmyard_manure", "green_manure")
GWP_SETS = ("AR5", "AR6")

FACTORS: dict[str, Factor] = {
    # Eq 5.2 baseline emission factor, continuously flooded without organic amendments.
    "ch4.ef_c.east_asia": _factor(
        "1.32", "kg CH4/ha/d", f"{IPCC_2019_CH5}, Table 5.11 (East Asia)", "0.89", "1.96"
    ),
    # Table 5.12: water regime during the cultivation period.
    "ch4.sf_w.continuously_flooded": _factor(
        "1.00", "", f"{IPCC_2019_CH5}, Table 5.12", "0.73", "1.27"
    ),
    "ch4.sf_w.single_drainage": _factor("0.71", "", f"{IPCC_2019_CH5}, Table 5.12", "0.53", "0.94"),
    "ch4.sf_w.multiple_drainage": _factor(
        "0.55", "", f"{IPCC_2019_CH5}, Table 5.12", "0.41", "0.72"
    ),
    # Table 5.13: water regime before the cultivation period (ranges not transcribed).
    "ch4.sf_p.non_flooded_short": _factor("1.00", "", f"{IPCC_2019_CH5}, Table 5.13"),
    "ch4.sf_p.non_flooded_long": _factor("0.89", "", f"{IPCC_2019_CH5}, Table 5.13"),
    "ch4.sf_p.flooded_long": _factor("2.41", "", f"{IPCC_2019_CH5}, Table 5.13"),
    "ch4.sf_p.non_flooded_over_year": _factor("0.59", "", f"{IPCC_2019_CH5}, Table 5.13"),
    # Table 5.14: conversion factors of organic amendments (straw in dry t/ha, others fresh).
    "ch4.cfoa.straw_recent": _factor("1.00", "", f"{IPCC_2019_CH5}, Table 5.14 (< 30 d before)"),
    "ch4.cfoa.straw_early": _factor("0.19", "", f"{IPCC_2019_CH5}, Table 5.14 (> 30 d before)"),
    "ch4.cfoa.compost": _factor("0.17", "", f"{IPCC_2019_CH5}, Table 5.14"),
    "ch4.cfoa.farmyard_manure": _factor("0.21", "", f"{IPCC_2019_CH5}, Table 5.14"),
    "ch4.cfoa.green_manure": _factor("0.45", "", f"{IPCC_2019_CH5}, Table 5.14"),
    "ch4.sf_o.exponent": _factor("0.59", "", f"{IPCC_2019_CH5}, Eq 5.3", "0.54", "0.64"),
    # Direct N2O from flooded rice, by water regime (Table 11.1).
    "n2o.ef1.continuously_flooded": _factor(
        "0.003", "kg N2O-N/kg N", f"{IPCC_2019_CH11}, Table 11.1"
    ),
    "n2o.ef1.drained": _factor("0.005", "kg N2O-N/kg N", f"{IPCC_2019_CH11}, Table 11.1"),
    # Indirect N2O (Table 11.3).
    "n2o.frac_gasf": _factor("0.11", "kg N volatilised/kg N", f"{IPCC_2019_CH11}, Table 11.3"),
    "n2o.ef4.wet": _factor("0.014", "kg N2O-N/kg N", f"{IPCC_2019_CH11}, Table 11.3 (wet climate)"),
    "n2o.frac_leach": _factor("0.24", "kg N leached/kg N", f"{IPCC_2019_CH11}, Table 11.3"),
    "n2o.ef5": _factor("0.011", "kg N2O-N/kg N", f"{IPCC_2019_CH11}, Table 11.3"),
    # Urea hydrolysis (Eq 11.13): tonnes of C per tonne of urea.
    "co2.urea": _factor("0.20", "t C/t urea", f"{IPCC_2019_CH11}, Eq 11.13"),
    # Energy.
    "energy.electricity.east_china": _factor(
        "0.5617",
        "kg CO2/kWh",
        "MEE & NBS announcement 2024-12: 2022 regional grid average, East China",
    ),
    "energy.diesel": _factor(
        "2.68",
        "kg CO2/L",
        "IPCC 2006 Vol 2 Ch 3 Table 3.3.1 (74,100 kg CO2/TJ) × NCV 43.0 TJ/Gg "
        "(Vol 2 Ch 1 Table 1.2) × 0.84 kg/L",
    ),
    # GWP-100.
    "gwp.AR5.ch4": _factor("28", "kg CO2e/kg CH4", "IPCC AR5 WG1 Table 8.7"),
    "gwp.AR5.n2o": _factor("265", "kg CO2e/kg N2O", "IPCC AR5 WG1 Table 8.7"),
    "gwp.AR6.ch4": _factor("27.0", "kg CO2e/kg CH4", "IPCC AR6 WG1 Table 7.15 (non-fossil CH4)"),
    "gwp.AR6.n2o": _factor("273", "kg CO2e/kg N2O", "IPCC AR6 WG1 Table 7.15"),
}

#: Mass ratios (exact): N2O per N2O-N, CO2 per C.
N2O_PER_N = Decimal(44) / Decimal(28)
CO2_PER_C = Decimal(44) / Decimal(12)
#: Nitrogen content of urea, CO(NH2)2: 28.014 / 60.056.
UREA_N_FRACTION = Decimal("0.4665")
