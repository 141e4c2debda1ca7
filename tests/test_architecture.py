"""The layer contracts in pyproject.toml name every module of the service's frame.

import-linter checks the imports; this checks the contracts themselves: a module added to
``service/`` beside the ground must be listed as forbidden to the ground and the domain, or the
contracts would silently let the domain import it.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def frame_modules() -> set[str]:
    names = set()
    for path in (ROOT / "service").iterdir():
        if path.name.startswith(("_", ".")) or path.name == "base":
            continue
        if path.suffix == ".py":
            names.add(f"service.{path.stem}")
        elif path.is_dir() and (path / "__init__.py").exists():
            names.add(f"service.{path.name}")
    return names


def contracts() -> dict[str, dict]:
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return {contract["name"]: contract for contract in settings["contracts"]}


def test_the_ground_and_the_domain_are_forbidden_every_frame_module():
    frame = frame_modules()
    assert "service.app" in frame and "service.base" not in frame
    guarded = [
        c
        for c in contracts().values()
        if c["type"] == "forbidden" and "flask" in c["forbidden_modules"]
    ]
    assert {tuple(c["source_modules"]) for c in guarded} == {
        ("service.base",),
        ("ledger",),
        ("labels", "points"),
    }
    for contract in guarded:
        missing = frame - set(contract["forbidden_modules"])
        assert not missing, f"{contract['name']}: add {sorted(missing)}"
        stale = {m for m in contract["forbidden_modules"] if m.startswith("service.")} - frame
        assert not stale, f"{contract['name']}: no such module {sorted(stale)}"


def test_no_cycles_is_checked_for_every_top_level_package():
    packages = {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()} - {"tests", "bench"}
    cycles = contracts()["No cycles anywhere"]
    assert set(cycles["ancestors"]) == packages
