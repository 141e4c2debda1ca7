"""Benchmarks. Each prints machine-readable results, its last line one JSON object, and measures
a baseline in the same run so that results compare across machines and days."""
