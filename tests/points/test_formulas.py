"""Practice reductions, worked by hand from the IPCC tables (information only, never claims)."""

from decimal import Decimal

import pytest

from labels.formulas import InputInvalid
from points.formulas import INFORMATION_ONLY, practice_reduction


def test_intermittent_irrigation_on_30_mu_worked_through():
    # Per ha: EF_c 1.32 × SF_p 1.00 × SF_o 1 × 112 d × (SF_w 1.00 − 0.55) = 66.528 kg CH4
    # × GWP 28 = 1,862.784 kg CO2e; less the N2O drainage adds on 200 kg N:
    # 200 × (0.005 − 0.003) × 44/28 × 265 = 166.5714… kg CO2e → 1,696.2126 kg CO2e/ha.
    # 30 mu = 2 ha → 3,392.4251 kg CO2e.
    reduction = practice_reduction(
        "intermittent_irrigation",
        Decimal(30),
        {"cultivation_days": 112, "project_regime": "multiple_drainage",
         "synthetic_n_kg_per_ha": 200},
    )  # fmt: skip
    assert reduction.kg_co2e_per_ha == Decimal("1696.2126")
    assert reduction.area_ha == Decimal("2.0000")
    assert reduction.kg_co2e == Decimal("3392.4251")
    basis = reduction.basis()
    assert basis["note"] == INFORMATION_ONLY
    assert basis["factors"]["ch4.sf_w.multiple_drainage"]["source"].endswith("Table 5.12")
    assert "n2o.ef1.drained" in basis["factors"]


def test_straw_removed_against_straw_incorporated_late():
    # SF_o with 5 t/ha of straw incorporated < 30 d before: (1 + 5 × 1.00)^0.59; removed: 1.
    # Per ha: 1.32 × 1.00 × 120 × 0.71 (single drainage) × (6^0.59 − 1) × 28.
    reduction = practice_reduction(
        "straw_handling",
        Decimal(15),
        {"cultivation_days": 120, "water_regime": "single_drainage", "straw_t_per_ha": 5,
         "project": "removed"},
    )  # fmt: skip
    expected = Decimal("1.32") * 120 * Decimal("0.71") * (Decimal(6) ** Decimal("0.59") - 1) * 28
    assert reduction.kg_co2e == expected.quantize(Decimal("0.0001"))
    assert reduction.area_ha == Decimal(1)


def test_a_lower_nitrogen_rate():
    # (240 − 180) kg N × (0.003 + 0.11 × 0.014 + 0.24 × 0.011) × 44/28 × 265 per ha.
    reduction = practice_reduction(
        "nitrogen_rate", Decimal(15), {"baseline_n_kg_per_ha": 240, "project_n_kg_per_ha": 180}
    )
    per_kg_n = (
        Decimal("0.003") + Decimal("0.11") * Decimal("0.014") + Decimal("0.24") * Decimal("0.011")
    )
    expected = 60 * per_kg_n * Decimal(44) / Decimal(28) * 265
    assert reduction.kg_co2e == expected.quantize(Decimal("0.0001"))


@pytest.mark.parametrize(
    ("practice", "area", "inputs", "field"),
    [
        ("terracing", Decimal(1), {}, "practice"),
        ("nitrogen_rate", Decimal(0), {}, "area_mu"),
        ("nitrogen_rate", Decimal("100001"), {}, "area_mu"),
        ("nitrogen_rate", Decimal(1), {"baseline_n_kg_per_ha": 100, "project_n_kg_per_ha": 120},
         "inputs.project_n_kg_per_ha"),
        ("nitrogen_rate", Decimal(1), {"baseline_n_kg_per_ha": "lots"},
         "inputs.baseline_n_kg_per_ha"),
        ("intermittent_irrigation", Decimal(1), {"cultivation_days": 112}, "inputs.project_regime"),
        ("intermittent_irrigation", Decimal(1),
         {"cultivation_days": 112, "baseline_regime": "single_drainage",
          "project_regime": "single_drainage"}, "inputs.project_regime"),
        ("intermittent_irrigation", Decimal(1),
         {"cultivation_days": 400, "project_regime": "multiple_drainage"},
         "inputs.cultivation_days"),
        ("straw_handling", Decimal(1), {"cultivation_days": 100, "straw_t_per_ha": True,
                                         "project": "removed"}, "inputs.straw_t_per_ha"),
    ],
)  # fmt: skip
def test_bad_inputs_name_the_field(practice, area, inputs, field):
    with pytest.raises(InputInvalid) as caught:
        practice_reduction(practice, area, inputs)
    assert caught.value.field == field
