"""Resume after kill -9: a run killed after a checkpoint and resumed ends with the weights and
held-out metrics of the same run uninterrupted (optimiser, scheduler, RNG and data order all come
back), for both objectives."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).parent))

from corpus_helpers import TINY, write_corpus

from hiddenpool.cli.main import main
from hiddenpool.pretrain import RECORD, WORK
from hiddenpool.pretrain.run import last_checkpoint

STEPS, SAVE = 12, 4


def _argv(corpus: Path, out: Path, objective: str) -> list[str]:
    return [
        sys.executable, "-m", "hiddenpool", "pretrain", str(corpus), "--out", str(out),
        "--objective", objective, *TINY, "--max-steps", str(STEPS), "--save-steps", str(SAVE),
        "--logging-steps", "2", "--threads", "1",
    ]  # fmt: skip


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}


def _kill_after_first_checkpoint(argv: list[str], out: Path, mlm: bool) -> int:
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
    checkpoints = out / WORK / "checkpoints"
    deadline = time.monotonic() + 120
    try:
        while last_checkpoint(checkpoints, mlm) is None:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no checkpoint within 2 minutes"
            time.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == -signal.SIGKILL
    assert not (out / RECORD).exists()
    done = last_checkpoint(checkpoints, mlm)
    assert done is not None
    step = int(done.name.split("-")[1])
    assert step < STEPS
    return step


@pytest.mark.slow
@pytest.mark.parametrize("objective", ["mlm", "clm"])
def test_kill_9_then_resume_ends_where_the_uninterrupted_run_ends(
    objective: str, tmp_path, capsys
) -> None:
    corpus = write_corpus(tmp_path / "corpus.txt", n=300)
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    plain = subprocess.run(_argv(corpus, whole, objective), capture_output=True, env=_env())
    assert plain.returncode == 0, plain.stderr.decode()

    argv = _argv(corpus, killed, objective)
    step = _kill_after_first_checkpoint(argv, killed, objective == "mlm")
    assert main(argv[3:]) == 2  # without --resume the unfinished run is not touched
    assert "holds an unfinished pretraining run; pass --resume" in capsys.readouterr().err
    resumed = subprocess.run([*argv, "--resume"], capture_output=True, text=True, env=_env())
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming from checkpoint-{step}" in resumed.stderr

    a = json.loads((whole / RECORD).read_text())
    b = json.loads((killed / RECORD).read_text())
    assert b["train"]["resumed_from"] == f"checkpoint-{step}" and a["train"]["resumed_from"] is None
    assert b["train"]["global_step"] == a["train"]["global_step"] == STEPS
    assert not (killed / WORK).exists()
    # Exact: the same seed on the same thread count is deterministic on a CPU, and every state
    # the Trainer keeps came back (a resumed run that skipped, repeated or re-masked a batch, or
    # restarted the schedule or Adam's moments, ends with other weights).
    assert b["eval_after"] == a["eval_after"]
    losses = [(e["step"], e["loss"]) for e in a["train"]["log_history"] if "loss" in e]
    assert [(e["step"], e["loss"]) for e in b["train"]["log_history"] if "loss" in e] == losses
    assert len(losses) == STEPS // 2
    weights_a = load_file(whole / "model.safetensors")
    weights_b = load_file(killed / "model.safetensors")
    assert weights_a.keys() == weights_b.keys()
    for name, tensor in weights_a.items():
        assert torch.equal(weights_b[name], tensor), name
