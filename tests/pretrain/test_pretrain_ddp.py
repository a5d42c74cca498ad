"""``torchrun -m hiddenpool pretrain`` and ``accelerate launch -m hiddenpool pretrain``: two gloo
processes with the global batch of one process train the same loss curve, and rank 0 alone writes
the folder. (On a CPU machine accelerate starts N processes only with ``--multi_gpu``; with
``--cpu`` it starts one, which the processes count in the record catches.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from corpus_helpers import TINY, write_corpus

from hiddenpool.pretrain import RECORD, WORK

# Two processes sum their halves of a batch in another order than one process does: float32
# rounding, compounded over the steps, is what may differ.
TOLERANCE = 1e-4


LAUNCHERS = {
    "python": [sys.executable, "-m", "hiddenpool"],
    "torchrun": [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
        "-m", "hiddenpool",
    ],
    "accelerate": [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
        "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
        "-m", "hiddenpool",
    ],
}  # fmt: skip


def _pretrain(corpus: Path, out: Path, launcher: str) -> subprocess.CompletedProcess[str]:
    argv = [
        *LAUNCHERS[launcher], "pretrain", str(corpus), "--out", str(out), "--objective", "clm",
        *TINY,
        "--max-steps", "8", "--save-steps", "4", "--logging-steps", "1", "--lr", "5e-3",
        "--threads", "1",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["torchrun", "accelerate"])
def test_two_gloo_processes_train_the_loss_curve_of_one(tmp_path, launcher: str) -> None:
    corpus = write_corpus(tmp_path / "corpus.txt", n=300)
    one = _pretrain(corpus, tmp_path / "one", "python")
    assert one.returncode == 0, one.stderr
    two = _pretrain(corpus, tmp_path / "two", launcher)
    assert two.returncode == 0, two.stderr
    assert two.stdout.count("held-out CLM loss") == 1  # one summary, from rank 0
    a = json.loads((tmp_path / "one" / RECORD).read_text())
    b = json.loads((tmp_path / "two" / RECORD).read_text())
    assert (a["train"]["processes"], b["train"]["processes"]) == (1, 2)
    assert a["train"]["tokens_seen"] == b["train"]["tokens_seen"]  # the same global batches
    curve_a = [e["loss"] for e in a["train"]["log_history"] if "loss" in e]
    curve_b = [e["loss"] for e in b["train"]["log_history"] if "loss" in e]
    assert len(curve_a) == len(curve_b) == 8
    assert curve_a[-1] < curve_a[0] - 0.5  # it learned, so the curves say something
    for step, (x, y) in enumerate(zip(curve_a, curve_b, strict=True), start=1):
        assert abs(x - y) <= TOLERANCE, (step, x, y)
    assert abs(a["eval_after"]["loss"] - b["eval_after"]["loss"]) <= TOLERANCE
    assert a["eval_after"]["predicted_tokens"] == b["eval_after"]["predicted_tokens"]
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == sorted(
        p.name for p in (tmp_path / "one").iterdir()
    )
    assert not (tmp_path / "two" / WORK).exists()
