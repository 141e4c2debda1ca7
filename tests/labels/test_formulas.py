"""The rice footprint calculator against hand-computed references (IPCC 2019 Eqs 5.1–5.3 and
Chapter 11), and its refusals of activity data outside the valid ranges."""

import math
from decimal import Decimal as D

import pytest

from labels.factors import FACTOR_TABLE_VERSION
from labels.formulas import (
    STAGES,
    CitedFactor,
    InputInvalid,
    RiceActivity,
    activity_from_mapping,
    rice_footprint,
)

GRID = 0.5617  # kg CO2/kWh, East China 2022
N2O_N = 44 / 28


def lianta_farm(**changes):
    """A Qingpu japonica farm: flooded all season, straw ploughed in a week before transplanting."""
    values = {
        "cultivation_days": D(120),
        "water_regime": "continuously_flooded",
        "pre_season": "non_flooded_short",
        "amendments": (("straw_recent", D(3)),),
        "synthetic_n_kg_per_ha": D(250),
        "urea_kg_per_ha": D(300),
        "diesel_l_per_ha": D(60),
        "electricity_kwh_per_ha": D(150),
        "paddy_yield_kg_per_ha": D(8500),
        "milled_yield_fraction": D("0.68"),
        "drying_kwh_per_t_paddy": D(40),
        "milling_kwh_per_t_milled": D(30),
        "packaging_kg_per_unit": D("0.05"),
        "freight_tkm_per_unit": D("1.5"),
        "unit_mass_kg": D(5),
        "fertiliser_kgco2e_per_kg_n": CitedFactor(D(8), "supplier EPD 2025"),
        "packaging_kgco2e_per_kg": CitedFactor(D("2.5"), "PE film, supplier declaration"),
        "freight_kgco2e_per_tkm": CitedFactor(D("0.1"), "carrier's 2025 report"),
    }
    return RiceActivity(**{**values, **changes})


def hand_computed(ef_c=1.32, sf_w=1.00, exponent=0.59, gwp_ch4=28, gwp_n2o=265):
    """The same farm worked by hand, stage by stage, in kg CO2e per kg of milled rice."""
    milled = 8500 * 0.68  # 5,780 kg milled rice per hectare
    sf_o = (1 + 3 * 1.00) ** exponent  # Eq 5.3: 3 t/ha of recent straw, CFOA 1.00
    ch4 = ef_c * sf_w * 1.00 * sf_o * 120  # Eqs 5.2 and 5.1: kg CH4 per hectare
    direct = 250 * 0.003 * N2O_N
    indirect = (250 * 0.11 * 0.014 + 250 * 0.24 * 0.011) * N2O_N
    return {
        "paddy_ch4": ch4 * gwp_ch4 / milled,
        "n2o_direct": direct * gwp_n2o / milled,
        "n2o_indirect": indirect * gwp_n2o / milled,
        "urea_co2": 300 * 0.20 * 44 / 12 / milled,
        "fertiliser_manufacture": 250 * 8 / milled,
        "farm_energy": (60 * 2.68 + 150 * GRID) / milled,
        "drying_milling": (40 / 0.68 + 30) * GRID / 1000,
        "packaging": 0.05 * 2.5 / 5,
        "transport": 1.5 * 0.1 / 5,
    }


def test_a_flooded_farm_with_straw_matches_the_hand_computation():
    footprint = rice_footprint(lianta_farm())
    expected = hand_computed()

    for stage in STAGES:
        assert float(footprint.stages_kg_per_kg[stage]) == pytest.approx(expected[stage], abs=1e-4)
    # Paddy methane dominates, as field studies of YRD japonica find (36–72 % of the total).
    assert float(footprint.stages_kg_per_kg["paddy_ch4"]) == pytest.approx(1.7387, abs=1e-4)
    total = sum(expected.values())
    assert float(footprint.total_kg_per_kg) == pytest.approx(total, abs=1e-4)
    assert float(footprint.total_kg_per_unit) == pytest.approx(total * 5, abs=5e-4)
    assert footprint.total_g_per_unit == math.ceil(float(footprint.total_kg_per_unit) * 1000)
    assert footprint.factor_table_version == FACTOR_TABLE_VERSION


def test_the_range_comes_from_the_factor_ranges():
    footprint = rice_footprint(lianta_farm())
    high = hand_computed(ef_c=1.96, sf_w=1.27, exponent=0.64)
    low = hand_computed(ef_c=0.89, sf_w=0.73, exponent=0.54)
    assert float(footprint.high_kg_per_kg) == pytest.approx(sum(high.values()), abs=1e-4)
    assert float(footprint.low_kg_per_kg) == pytest.approx(sum(low.values()), abs=1e-4)
    assert footprint.low_kg_per_kg < footprint.total_kg_per_kg < footprint.high_kg_per_kg


def test_intermittent_irrigation_cuts_paddy_methane_by_the_scaling_factor():
    flooded = rice_footprint(lianta_farm())
    drained = rice_footprint(lianta_farm(water_regime="multiple_drainage"))
    ratio = drained.stages_kg_per_kg["paddy_ch4"] / flooded.stages_kg_per_kg["paddy_ch4"]
    assert float(ratio) == pytest.approx(0.55, abs=1e-4)
    # Drained fields emit more direct N2O (EF1 0.005 instead of 0.003).
    assert float(drained.stages_kg_per_kg["n2o_direct"]) == pytest.approx(
        250 * 0.005 * N2O_N * 265 / 5780, abs=1e-4
    )


def test_ar6_uses_its_own_gwps():
    ar6 = rice_footprint(lianta_farm(gwp_set="AR6"))
    expected = hand_computed(gwp_ch4=27.0, gwp_n2o=273)
    assert float(ar6.stages_kg_per_kg["paddy_ch4"]) == pytest.approx(
        expected["paddy_ch4"], abs=1e-4
    )
    assert ar6.gwp_set == "AR6"
    assert "gwp.AR6.ch4" in ar6.factors and "gwp.AR5.ch4" not in ar6.factors


def test_every_factor_used_carries_its_source():
    footprint = rice_footprint(lianta_farm())
    assert footprint.factors["ch4.ef_c.east_asia"]["source"].endswith("Table 5.11 (East Asia)")
    assert footprint.factors["input.fertiliser_kgco2e_per_kg_n"] == {
        "value": "8",
        "source": "supplier EPD 2025",
    }
    assert "ch4.cfoa.compost" not in footprint.factors  # not applied, not listed
    assert all(entry["source"] for entry in footprint.factors.values())


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"cultivation_days": D(200)}, "cultivation_days"),
        ({"paddy_yield_kg_per_ha": D(1000)}, "paddy_yield_kg_per_ha"),
        ({"milled_yield_fraction": D("0.95")}, "milled_yield_fraction"),
        ({"water_regime": "sometimes"}, "water_regime"),
        ({"gwp_set": "SAR"}, "gwp_set"),
        ({"amendments": (("sawdust", D(1)),)}, "amendments.0.kind"),
        ({"amendments": (("compost", D(31)),)}, "amendments.0.t_per_ha"),
        ({"urea_kg_per_ha": D(600)}, "urea_kg_per_ha"),  # 280 kg N > 250 declared
        ({"fertiliser_kgco2e_per_kg_n": None}, "fertiliser_kgco2e_per_kg_n"),
        (
            {"packaging_kgco2e_per_kg": CitedFactor(D(2), " ")},
            "packaging_kgco2e_per_kg.source",
        ),
        ({"unit_mass_kg": D("NaN")}, "unit_mass_kg"),
    ],
)
def test_activity_outside_the_valid_range_is_refused(changes, field):
    with pytest.raises(InputInvalid) as error:
        rice_footprint(lianta_farm(**changes))
    assert error.value.field == field


def test_json_shaped_activity_is_read_exactly():
    activity = activity_from_mapping(
        {
            "cultivation_days": 120,
            "water_regime": "single_drainage",
            "pre_season": "non_flooded_long",
            "paddy_yield_kg_per_ha": "8500",
            "milled_yield_fraction": "0.68",
            "unit_mass_kg": 5,
            "amendments": [{"kind": "straw_early", "t_per_ha": "4.5"}],
        }
    )
    assert activity.milled_yield_fraction == D("0.68")
    footprint = rice_footprint(activity)
    sf_o = (1 + 4.5 * 0.19) ** 0.59
    expected_ch4 = 1.32 * 0.71 * 0.89 * sf_o * 120 * 28 / 5780
    assert float(footprint.stages_kg_per_kg["paddy_ch4"]) == pytest.approx(expected_ch4, abs=1e-4)
    for bad, field in [
        ({"cultivation_days": True}, "cultivation_days"),
        ({"cultivation_days": "12o"}, "cultivation_days"),
        ({"amendments": "straw"}, "amendments"),
        ({"fertiliser_kgco2e_per_kg_n": 8}, "fertiliser_kgco2e_per_kg_n"),
    ]:
        with pytest.raises(InputInvalid) as error:
            activity_from_mapping(
                {
                    "cultivation_days": 120,
                    "paddy_yield_kg_per_ha": 8500,
                    "milled_yield_fraction": 0.68,
                    "unit_mass_kg": 5,
                    **bad,
                }
            )
        assert error.value.field == field
