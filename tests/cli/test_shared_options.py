"""The model and loading options: every command that loads a model takes them and obeys them.

Each command runs on a tiny checkpoint that loading refuses unless asked: one with only pickled
weights (``--allow-pickle``) and one that ships its own model code (``--trust-remote-code``; that
code leaves a mark when it runs). Refused without the option in one line naming the option;
with it, the command works and, for pickled weights, gives what the safetensors original gives.
"""

from __future__ import annotations

import csv
import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
import transformers.dynamic_module_utils
from safetensors.torch import load_file

from hiddenpool.cli.main import main

sys.path.insert(0, str(Path(__file__).parents[1] / "train"))
from train_helpers import synthetic

COMMANDS = ["inspect", "embed", "compare", "train", "predict", "export"]
FAST_TRAIN = ["--max-steps", "1", "--batch-size", "8", "--valid-fraction", "0", "--quiet"]
REMOTE_CODE = '''"""Model code shipped with a checkpoint: a BERT that leaves a mark when built."""

from pathlib import Path

from transformers import BertModel

MARK = Path({mark!r})


class MarkingBertModel(BertModel):
    def __init__(self, config, *args, **kwargs):
        super().__init__(config, *args, **kwargs)
        MARK.touch()
'''


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(autouse=True)
def _modules_cache(tmp_path_factory, monkeypatch):
    """Remote code is copied into transformers' modules cache: a temporary one, not ~/.cache."""
    cache = tmp_path_factory.getbasetemp() / "hf-modules"
    monkeypatch.setattr(transformers.dynamic_module_utils, "HF_MODULES_CACHE", str(cache))
    monkeypatch.setattr(sys, "path", list(sys.path))  # transformers appends the cache to it


def _pickle_only(source: Path, target: Path) -> Path:
    """A copy of ``source`` whose weights are a pickled pytorch_model.bin, not safetensors."""
    shutil.copytree(source, target)
    weights = load_file(target / "model.safetensors")
    (target / "model.safetensors").unlink()
    torch.save(weights, target / "pytorch_model.bin")
    return target


def _remote_code(source: Path, target: Path, mark: Path) -> Path:
    """A copy of ``source`` whose config asks for its own model code (which touches ``mark``)."""
    shutil.copytree(source, target)
    (target / "modeling_marking.py").write_text(REMOTE_CODE.format(mark=str(mark)))
    config = json.loads((target / "config.json").read_text())
    config["auto_map"] = {"AutoModel": "modeling_marking.MarkingBertModel"}
    (target / "config.json").write_text(json.dumps(config))
    return target


@pytest.fixture(scope="module")
def work(tiny_dir, tmp_path_factory):
    """Data files, the refused checkpoints, and a trained model in plain and refused forms."""
    folder = tmp_path_factory.mktemp("shared")
    data = synthetic(16)
    rows = [{"text": t, "score": float(y)} for t, y in zip(data.texts, data.labels, strict=True)]
    with (folder / "data.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["text", "score"])
        writer.writeheader()
        writer.writerows(rows)
    (folder / "texts.txt").write_text("".join(f"{r['text']}\n" for r in rows[:5]))
    mark = folder / "remote-code-ran"
    base = tiny_dir("bert")
    trained = folder / "trained"
    train = ["train", str(folder / "data.csv"), "--task", "regression", "--label-column", "score"]
    assert main([*train, "--model", str(base), "--out", str(trained), *FAST_TRAIN]) == 0
    return {
        "folder": folder,
        "mark": mark,
        "safe": {"model": base, "trained": trained},
        "pickle": {
            "model": _pickle_only(base, folder / "pickled"),
            "trained": _pickle_only(trained, folder / "trained-pickled"),
        },
        "remote": {
            "model": _remote_code(base, folder / "remote", mark),
            "trained": _remote_code(trained, folder / "trained-remote", mark),
        },
    }


def _argv(command: str, models: dict[str, Path], work: dict, out: Path) -> list[str]:
    folder = work["folder"]
    data, model = str(folder / "data.csv"), str(models["model"])
    return {
        "inspect": ["inspect", model, "--json"],
        "embed": ["embed", str(folder / "texts.txt"), "-o", str(out), "--model", model, "--quiet"],
        "compare": [
            "compare", data, "--task", "regression", "--label-column", "score", "--model", model,
            "--strategies", "mean", "--folds", "2", "--limit", "0", "--out", str(out), "--quiet",
        ],
        "train": [
            "train", data, "--task", "regression", "--label-column", "score", "--model", model,
            "--out", str(out), *FAST_TRAIN,
        ],
        "predict": ["predict", str(models["trained"]), data, "-o", str(out)],
        "export": ["export", "--model", model, "--pooling", "mean", "-o", str(out)],
    }[command]  # fmt: skip


def _out(command: str, folder: Path, name: str) -> Path:
    """Where ``command`` writes: a file of the kind it writes, or a folder."""
    return folder / (name + {"embed": ".npy", "predict": ".csv"}.get(command, ""))


def _output(command: str, out: Path, stdout: str) -> Callable[[], object]:
    """What the command produced, to compare across checkpoints holding the same weights."""
    readers: dict[str, Callable[[], object]] = {
        "inspect": lambda: json.loads(stdout),
        "embed": lambda: np.load(out),
        "predict": lambda: [float(row["score"]) for row in csv.DictReader(out.open())],
    }
    return readers.get(command, out.exists)


def _last_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err
    return lines[-1]


@pytest.mark.parametrize("command", COMMANDS)
def test_pickled_weights_are_refused_without_allow_pickle_and_match_with_it(
    command, work, tmp_path, capsys
):
    code = main(_argv(command, work["pickle"], work, _out(command, tmp_path, "refused")))
    line = _last_error_line(capsys.readouterr().err)
    assert code == 2
    assert line.startswith(f"hiddenpool {command}: error:") and "only pickled weights" in line
    assert "pass --allow-pickle if you trust" in line  # the option, in command-line terms
    assert not _out(command, tmp_path, "refused").exists()

    results = []
    for kind, extra in (("safe", []), ("pickle", ["--allow-pickle"])):
        out = _out(command, tmp_path, kind)
        assert main([*_argv(command, work[kind], work, out), *extra]) == 0
        results.append(_output(command, out, capsys.readouterr().out)())
    safe, pickled = results
    if command == "embed":
        np.testing.assert_array_equal(pickled, safe)
    elif command == "inspect":
        assert {**pickled, "model": None} == {**safe, "model": None}
    else:
        assert pickled == safe  # predictions; for the rest, that the output was written


@pytest.mark.parametrize("command", COMMANDS)
def test_remote_code_runs_only_with_trust_remote_code(command, work, tmp_path, capsys):
    mark: Path = work["mark"]
    mark.unlink(missing_ok=True)
    code = main(_argv(command, work["remote"], work, _out(command, tmp_path, "refused")))
    line = _last_error_line(capsys.readouterr().err)
    assert code == 2 and "ships its own model code" in line
    assert "pass --trust-remote-code after reading that code" in line
    assert not mark.exists()

    argv = _argv(command, work["remote"], work, _out(command, tmp_path, "trusted"))
    argv.append("--trust-remote-code")
    assert main(argv) == 0, capsys.readouterr().err
    assert mark.exists()  # the checkpoint's own code built the model


DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "float32": torch.float32}


def _hand_mean(model: Path, texts: list[str], dtype: torch.dtype) -> np.ndarray:
    """Plain transformers in ``dtype``: last_hidden_state, masked mean in float32."""
    tokenizer = transformers.AutoTokenizer.from_pretrained(model)
    network = transformers.AutoModel.from_pretrained(model, dtype=dtype).eval()
    batch = tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
    with torch.no_grad():
        hidden = network(**batch).last_hidden_state.float()
    mask = batch["attention_mask"].unsqueeze(-1).float()
    return ((hidden * mask).sum(1) / mask.sum(1)).numpy()


def test_device_and_dtype_reach_the_model(work, tmp_path, monkeypatch):
    from hiddenpool.backbone import Backbone

    texts_file = work["folder"] / "texts.txt"
    texts = texts_file.read_text().splitlines()
    model = work["safe"]["model"]
    seen: list[set[torch.dtype]] = []
    capture = Backbone.capture

    def spy(self, batch, request):
        states = capture(self, batch, request)
        assert self.device == torch.device("cpu")
        seen.append(
            {p.dtype for p in self.model.parameters()} | {t.dtype for t in states.layers.values()}
        )
        return states

    monkeypatch.setattr(Backbone, "capture", spy)
    vectors = {}
    for name, dtype in DTYPES.items():
        out = tmp_path / f"{name}.npy"
        argv = ["embed", str(texts_file), "-o", str(out), "--model", str(model), "--quiet"]
        seen.clear()
        assert main([*argv, "--device", "cpu", "--dtype", name]) == 0
        assert seen and all(dtypes == {dtype} for dtypes in seen), (name, seen)
        vectors[name] = np.load(out)
    for name, dtype in DTYPES.items():
        reference = _hand_mean(model, texts, dtype)
        # the same dtype gives the same vectors (bit for bit here); another dtype is far off
        # (measured: fp16 from float32 9e-4, bf16 from either 8e-3)
        np.testing.assert_allclose(vectors[name], reference, atol=1e-5, rtol=0, err_msg=name)
        for other in DTYPES.keys() - {name}:
            assert np.abs(vectors[other] - reference).max() > 1e-4, (other, name)


def test_bad_dtype_is_one_argparse_line(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["inspect", "--dtype", "float8"])
    assert exit.value.code == 2
    line = _last_error_line(capsys.readouterr().err)
    assert "argument --dtype: expected auto, float32, float16 or bfloat16, got 'float8'" in line


def test_model_by_option_or_position_and_not_both_differently(work, tmp_path, capsys):
    trained, data = str(work["safe"]["trained"]), str(work["folder"] / "data.csv")
    assert main(["predict", "--model", trained, data, "-o", str(tmp_path / "a.csv")]) == 0
    assert main(["predict", trained, data, "-o", str(tmp_path / "b.csv")]) == 0
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text()
    capsys.readouterr()
    model = str(work["safe"]["model"])
    for argv, command, fragment in [
        (["inspect", model, "--model", trained], "inspect", "give the model once"),
        (["predict", data, "-o", str(tmp_path / "c.csv")], "predict", "give MODEL_DIR or --model"),
    ]:
        assert main(argv) == 2
        line = _last_error_line(capsys.readouterr().err)
        assert line.startswith(f"hiddenpool {command}: error:") and fragment in line
