"""Commands that run no model start without torch or transformers, and the lazy API still works.

Timing depends on the machine; what the module table holds after a command does not. Each check
runs in a fresh interpreter (this one has torch loaded already). The times are in
bench/cli_startup.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import hiddenpool
from hiddenpool.cli.main import SUBCOMMANDS, main

HEAVY = ("torch", "transformers")


def _fresh(code: str, tmp_path) -> dict:
    """Run ``code`` in a new interpreter; it prints one JSON line last."""
    env = {**os.environ, "HIDDENPOOL_CACHE": str(tmp_path / "cache")}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--help"], [module.NAME for module in SUBCOMMANDS]),
        (["--version"], [f"hiddenpool {hiddenpool.__version__}"]),
        (["strategies"], ["Token poolers", "Layer combiners", "cls@concat(-4:)"]),
        (["datasets"], ["vader-movies", "rotten-tomatoes"]),
    ],
    ids=["help", "version", "strategies", "datasets"],
)
def test_commands_without_a_model_never_import_torch_or_transformers(argv, expected, tmp_path):
    code = f"""
import contextlib, io, json, sys
from hiddenpool.cli.main import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        status = main({argv!r})
    except SystemExit as exit:
        status = exit.code
heavy = [name for name in {HEAVY!r} if name in sys.modules]
print(json.dumps({{"status": status, "heavy": heavy, "out": out.getvalue()}}))
"""
    result = _fresh(code, tmp_path)
    assert result["status"] in (0, None)
    assert result["heavy"] == []
    for text in expected:
        assert text in result["out"]


def test_import_hiddenpool_is_light_and_its_names_load_on_use(tmp_path):
    code = f"""
import json, sys
import hiddenpool
light = [name for name in {HEAVY!r} if name in sys.modules]
from hiddenpool import Encoder, parse_strategy
import hiddenpool.encode
print(json.dumps({{
    "light": light,
    "same": Encoder is hiddenpool.encode.Encoder,
    "spec": str(parse_strategy("mean@-4:")),
    "listed": sorted(set(hiddenpool.__all__) - set(dir(hiddenpool))),
}}))
"""
    result = _fresh(code, tmp_path)
    assert result["light"] == []
    assert result["same"] is True
    assert result["spec"] == "mean@-4:"
    assert result["listed"] == []


def test_every_public_name_resolves_and_unknown_names_fail():
    for name in hiddenpool.__all__:
        assert getattr(hiddenpool, name) is not None
    with pytest.raises(AttributeError, match="has no attribute 'Encodr'"):
        hiddenpool.Encodr  # noqa: B018


@pytest.mark.parametrize("module", SUBCOMMANDS, ids=lambda module: module.NAME)
def test_every_subcommand_builds_its_help(module, capsys):
    with pytest.raises(SystemExit) as exit:
        main([module.NAME, "--help"])
    assert exit.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: hiddenpool {module.NAME}")
