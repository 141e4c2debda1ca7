"""Unit codes and QR images: ``python -m bench.codes [--units 1000000]``.

Measured in one run, each in a fresh process on one core:

* ``codes_per_s``: a CSV export (``labels.exports.csv_chunks``) of ``--units`` units, every chunk
  written to a null sink, and its peak resident memory; the same for a tenth as many units, so
  ``peak_rss_mb`` can be seen not to grow with the count (``rss_growth_mb``);
* baseline: the same number of CSV lines formatted without a MAC (``baseline_lines_per_s``);
* ``qr_images_per_s``: single unit codes rendered as SVG and as PNG, for ``--seconds``.

The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import time

from bench.common import report
from labels.codes import lot_key, serial_for
from labels.exports import csv_chunks, digital_link, qr_png, qr_svg

BASE_URL = "https://tanhui.example.cn"
MASTER_KEYS = {"A": bytes(range(32))}


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def export(units: int, results) -> None:
    key = lot_key(MASTER_KEYS, "A", gtin="06901234567892", lot="LT2026A", units=units)
    before = _peak_rss_mb()
    started = time.perf_counter()
    written = 0
    with open("/dev/null", "w", encoding="ascii") as sink:
        for chunk in csv_chunks(BASE_URL, key):
            written += sink.write(chunk)
    elapsed = time.perf_counter() - started
    results.put({"units": units, "seconds": elapsed, "bytes": written,
                 "rss_before_mb": before, "peak_rss_mb": _peak_rss_mb()})  # fmt: skip


def baseline(units: int, results) -> None:
    prefix = f"{BASE_URL}/01/06901234567892/10/LT2026A/21/"
    started = time.perf_counter()
    with open("/dev/null", "w", encoding="ascii") as sink:
        parts = []
        for index in range(units):
            parts.append(f"{index},{index:016d},{prefix}{index:016d}\n")
            if len(parts) == 1000:
                sink.write("".join(parts))
                parts = []
        sink.write("".join(parts))
    results.put({"seconds": time.perf_counter() - started})


def images(seconds: float, results) -> None:
    key = lot_key(MASTER_KEYS, "A", gtin="06901234567892", lot="LT2026A", units=1_000_000)
    rates = {}
    for name, render in (("svg", qr_svg), ("png", qr_png)):
        count, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            render(digital_link(BASE_URL, key.gtin, key.lot, serial_for(key, count)))
            count += 1
        rates[name] = count / (time.perf_counter() - started)
    results.put(rates)


def _run(target, *args):
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    process = context.Process(target=target, args=(*args, results))
    process.start()
    value = results.get(timeout=3600)
    process.join(timeout=60)
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--units", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each image window")
    options = parser.parse_args()
    small = _run(export, max(options.units // 10, 1))
    large = _run(export, options.units)
    plain = _run(baseline, options.units)
    rates = _run(images, options.seconds)
    codes_per_s = large["units"] / large["seconds"]
    result = {
        "units": options.units,
        "codes_per_s": round(codes_per_s),
        "export_mb": round(large["bytes"] / 2**20, 1),
        "peak_rss_mb": round(large["peak_rss_mb"], 1),
        "peak_rss_mb_tenth": round(small["peak_rss_mb"], 1),
        "rss_growth_mb": round(large["peak_rss_mb"] - small["peak_rss_mb"], 1),
        "baseline_lines_per_s": round(options.units / plain["seconds"]),
        "ratio": round(codes_per_s * plain["seconds"] / options.units, 3),
        "qr_images_per_s": round(rates["png"], 1),
        "qr_svg_per_s": round(rates["svg"], 1),
        "qr_png_per_s": round(rates["png"], 1),
    }
    print(
        f"{codes_per_s:,.0f} codes/s "
        f"(peak RSS {large['peak_rss_mb']:.1f} MB for {options.units:,}, "
        f"{small['peak_rss_mb']:.1f} MB for a tenth); QR {rates['svg']:.0f} SVG/s, "
        f"{rates['png']:.0f} PNG/s"
    )
    report(result)


if __name__ == "__main__":
    main()
