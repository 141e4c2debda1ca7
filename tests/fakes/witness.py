"""The witness the tests run: ``tools/tanhui-witness.py`` (written from C2SP tlog-witness, it
imports nothing of the service), loaded by path since its file name is no module name."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

WITNESS_PATH = Path(__file__).resolve().parents[2] / "tools" / "tanhui-witness.py"
WITNESS_MODULE = "tanhui_witness"


def _load():
    loaded = sys.modules.get(WITNESS_MODULE)
    if loaded is not None:
        return loaded
    spec = importlib.util.spec_from_file_location(WITNESS_MODULE, WITNESS_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[WITNESS_MODULE] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


_witness = _load()
RunningWitness = _witness.RunningWitness
load_verifier = _witness.load_verifier
witness_key_generate = _witness.witness_key_generate
witness_key_parse = _witness.witness_key_parse
witness_process = _witness.witness_process
