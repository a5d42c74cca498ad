"""``hiddenpool inspect`` and ``hiddenpool strategies``."""

from __future__ import annotations

import json
import subprocess
import sys

from hiddenpool.cli.main import main
from hiddenpool.pooling import COMBINERS, POOLERS


def test_inspect_an_mlm_checkpoint_reports_its_anatomy(tiny_dir, capsys):
    assert main(["inspect", str(tiny_dir("bert", "BertForMaskedLM")), "--json"]) == 0
    anatomy = json.loads(capsys.readouterr().out)
    assert anatomy["family"] == "bert"
    assert anatomy["saved_as"] == ["BertForMaskedLM"]
    assert anatomy["num_layers"] == 3 and anatomy["hidden_states_entries"] == 4
    b, t = anatomy["sample_batch"]
    assert anatomy["last_hidden_state"] == [b, t, 32]
    assert anatomy["pooler_output"] == [b, 32]
    assert anatomy["hidden_states"] == f"4 x ({b}, {t}, 32)"
    assert anatomy["attentions"] == f"3 x ({b}, 4, {t}, {t})"
    assert "freshly initialised" in anatomy["pooler"]
    assert any(group.startswith("cls.predictions") for group in anatomy["discarded_on_load"])
    assert anatomy["summary_token"].startswith("[CLS] (first real token")


def test_inspect_a_decoder_and_xlnet_name_the_last_token(tiny_dir, capsys):
    main(["inspect", str(tiny_dir("gpt2")), "--json"])
    gpt2 = json.loads(capsys.readouterr().out)
    assert gpt2["pooler_output"] is None and gpt2["final_norm"] == "ln_f"
    assert "last real token" in gpt2["summary_token"]
    main(["inspect", str(tiny_dir("xlnet")), "--json"])
    xlnet = json.loads(capsys.readouterr().out)
    assert xlnet["summary_token"].startswith("<cls> (last") and xlnet["padding_side"] == "left"


def test_inspect_text_output_on_the_default_model(capsys):
    assert main(["inspect"]) == 0
    out = capsys.readouterr().out
    assert "hidden states entries  7" in out
    assert "never trained" in out
    assert "hidden_states[0] = embedding output" in out


def test_strategies_lists_every_registered_name(capsys):
    assert main(["strategies"]) == 0
    out = capsys.readouterr().out
    for name in [*POOLERS, *COMBINERS]:
        assert f"  {name}" in out


def test_a_bad_model_path_is_one_line_without_traceback():
    result = subprocess.run(
        [sys.executable, "-m", "hiddenpool", "inspect", "./no/such/model"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "hiddenpool inspect: error: ./no/such/model: no such model folder"
    ]
