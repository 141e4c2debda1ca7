"""What a label says, in Chinese and English: reduction (footprint, low-carbon) and offset
(carbon-neutral) are kept apart, and no wording claims a product without emissions.

Pure: rows in, text out. Apart from the certification workflow, which decides, because the API
and the resolver's pages both show these words.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from labels.models import Benchmark, Footprint, Label

BOUNDARY_NAMES = {
    "cradle_to_gate": ("从摇篮到大门", "cradle to gate"),
    "cradle_to_grave": ("从摇篮到坟墓", "cradle to grave"),
    "farm_gate": ("至农场大门", "to the farm gate"),
}


@dataclass(frozen=True)
class Wording:
    zh: str
    en: str


def label_wording(
    label: Label, footprint: Footprint, benchmark: Benchmark | None = None
) -> Wording:
    """What the label says. A footprint or low-carbon label speaks of emissions and reductions
    only; a carbon-neutral label says the footprint is offset by retired sink credits, and never
    that the product has no emissions."""
    boundary_zh, boundary_en = BOUNDARY_NAMES[footprint.boundary]
    unit_zh = "每千克" if footprint.declared_unit == "kg" else "每件"
    unit_en = "per kg" if footprint.declared_unit == "kg" else "per unit"
    value = f"{footprint.kg_per_unit.normalize():f} kg CO2e"
    if label.scheme == "footprint":
        return Wording(
            zh=f"产品碳足迹：{unit_zh} {value}（{footprint.gwp_set}，{boundary_zh}）。",
            en=(
                f"Product carbon footprint: {value} {unit_en} ({footprint.gwp_set}, {boundary_en})."
            ),
        )
    if label.scheme == "low_carbon":
        assert benchmark is not None
        cut = (1 - footprint.kg_per_kg / benchmark.kg_per_kg) * 100
        percent = f"{cut.quantize(Decimal('0.1')):f}%"
        return Wording(
            zh=(
                f"低碳产品：碳足迹{unit_zh} {value}，比品类基准低 {percent}"
                f"（基准来源：{benchmark.source}）。这是减排，不含任何抵消。"
            ),
            en=(
                f"Low-carbon product: {value} {unit_en}, {percent} below its category benchmark "
                f"(source: {benchmark.source}). This is a reduction; no offsets are counted."
            ),
        )
    return Wording(
        zh=(
            f"碳中和：本产品碳足迹{unit_zh} {value}，已由注销的长三角农业碳汇全额抵消。"
            "产品本身仍有排放；抵消不等于减排。"
        ),
        en=(
            f"Carbon neutral: this product's footprint of {value} {unit_en} is offset in full by "
            "retired agricultural sink credits from the Yangtze River Delta. The product still "
            "has emissions; an offset is not a reduction."
        ),
    )
