"""Resume after SIGKILL: `hiddenpool train --resume` ends where an uninterrupted run ends, exactly.

A subprocess runs `hiddenpool train` and is SIGKILLed (no exception handler, no cleanup) four
steps after a checkpoint, in the middle of an epoch of the second fold, while it writes the next
checkpoint (which the Trainer alone would resume from, and fail on). Resumed, the run must
give bit-identical weights, out-of-fold predictions and metrics to the same command run without
interruption: the optimiser moments, the scheduler, the dropout RNG and the data order (the
epoch's remaining batches, then the next epoch's shuffle) must all come back from the
checkpoint. On CPU, on one thread, nothing here is non-deterministic, so the tolerance is zero.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from safetensors.torch import load_file
from train_helpers import synthetic

from hiddenpool.cli.main import main

# Kill the process with SIGKILL in the KILL_FOLD-th Trainer it builds: at the end of step
# KILL_STEP, or (KILL_IN_SAVE set) while it saves the checkpoint of that step, once the weights
# and the optimiser are written and before the RNG state and trainer_state.json are.
_KILLING_RUN = textwrap.dedent(
    """
    import os, signal, sys
    import torch, transformers
    torch.set_num_threads(1)
    built = []
    def due(state):
        fold, step = int(os.environ["KILL_FOLD"]), int(os.environ["KILL_STEP"])
        return len(built) == fold + 1 and state.global_step == step
    class Kill(transformers.TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if due(state) and not os.environ.get("KILL_IN_SAVE"):
                os.kill(os.getpid(), signal.SIGKILL)
    save_rng = transformers.Trainer._save_rng_state
    def saving(self, *args, **kwargs):
        if due(self.state) and os.environ.get("KILL_IN_SAVE"):
            os.kill(os.getpid(), signal.SIGKILL)
        return save_rng(self, *args, **kwargs)
    transformers.Trainer._save_rng_state = saving
    init = transformers.Trainer.__init__
    def counting(self, *args, **kwargs):
        built.append(self)
        kwargs["callbacks"] = [*(kwargs.get("callbacks") or []), Kill()]
        init(self, *args, **kwargs)
    transformers.Trainer.__init__ = counting
    from hiddenpool.cli.main import main
    sys.exit(main(sys.argv[1:]))
    """
)
_RUN_DEPENDENT = {"seconds", "train_samples_per_second", "model_dir"}
_LOG_DEPENDENT = ("runtime", "per_second")


def _argv(data: Path, model: Path, out: Path, *more: str) -> list[str]:
    # 2 folds of 32 rows: 8 steps an epoch, 12 steps (into the second epoch), a checkpoint and
    # an evaluation every 4 steps; dropout 0.1 and a warm-up + cosine schedule, so the RNG and
    # the scheduler matter.
    return [
        "train",
        str(data),
        "--model",
        str(model),
        "--task",
        "regression",
        "--label-column",
        "score",
        "--out",
        str(out),
        "--folds",
        "2",
        "--max-steps",
        "12",
        "--eval-steps",
        "4",
        "--batch-size",
        "4",
        "--lr",
        "2e-3",
        "--warmup",
        "0.25",
        "--seed",
        "3",
        "--early-stopping",
        "0",
        "--keep-checkpoints",
        "--quiet",
        *more,
    ]


def _evaluations(checkpoint: Path) -> list[dict[str, float]]:
    history = json.loads((checkpoint / "trainer_state.json").read_text())["log_history"]
    return [
        {k: v for k, v in entry.items() if not k.endswith(_LOG_DEPENDENT)}
        for entry in history
        if "eval_loss" in entry
    ]


def _metrics(out: Path) -> dict[str, object]:
    summary = json.loads((out / "metrics.json").read_text())
    for fold in summary["folds"]:
        for key in _RUN_DEPENDENT:
            fold.pop(key)
    return summary


@pytest.mark.slow
def test_a_run_killed_while_saving_resumes_to_the_uninterrupted_result(tiny_dir, tmp_path):
    data = synthetic(64)
    table = tmp_path / "data.csv"
    rows = zip(data.texts, data.labels, strict=True)
    table.write_text("text,score\n" + "".join(f"{t},{y}\n" for t, y in rows))
    model = tiny_dir("bert")

    killed_out = tmp_path / "killed"
    # Killed in fold 1 while saving checkpoint-8: checkpoint-4 is complete, checkpoint-8 has
    # weights and optimiser but no trainer state, and steps 5 to 8 are lost.
    kill = {"KILL_FOLD": "1", "KILL_STEP": "8", "KILL_IN_SAVE": "1"}
    env = {**os.environ, **kill, "OMP_NUM_THREADS": "1"}
    killed = subprocess.run(
        [sys.executable, "-c", _KILLING_RUN, *_argv(table, model, killed_out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    checkpoints = killed_out / "fold1" / "checkpoints"
    assert sorted(p.name for p in checkpoints.iterdir()) == ["checkpoint-4", "checkpoint-8"]
    assert not (checkpoints / "checkpoint-8" / "trainer_state.json").exists()
    assert (killed_out / "fold0" / "hiddenpool_model.json").is_file()
    assert not (killed_out / "fold1" / "hiddenpool_model.json").exists()

    assert main(_argv(table, model, killed_out, "--resume")) == 0
    plain_out = tmp_path / "plain"
    assert main(_argv(table, model, plain_out)) == 0

    for fold in ("fold0", "fold1"):
        for name in ("model.safetensors", "pooled_head.safetensors"):
            resumed = load_file(killed_out / fold / name)
            plain = load_file(plain_out / fold / name)
            assert resumed.keys() == plain.keys()
            for key, tensor in plain.items():
                assert np.array_equal(resumed[key].numpy(), tensor.numpy()), (fold, name, key)
        last = Path(fold, "checkpoints", "checkpoint-12")
        assert _evaluations(killed_out / last) == _evaluations(plain_out / last)
    assert _metrics(killed_out) == _metrics(plain_out)
    assert (killed_out / "oof.csv").read_text() == (plain_out / "oof.csv").read_text()


def test_early_stopping_patience_survives_a_resume(tiny_dir, tmp_path, monkeypatch):
    # lr 1e-30 leaves every weight as it was: the best evaluation is step 1's, and patience 2
    # stops the run at step 3. Interrupted after step 2's evaluation and checkpoint (one
    # evaluation of patience spent), the resumed run must stop at step 3 too, not start counting
    # again from the checkpoint and stop at step 4.
    import transformers

    import hiddenpool.train.trainer as trainer_module
    from hiddenpool.train import TrainConfig, train

    config = TrainConfig(
        data="synthetic",
        model=str(tiny_dir("bert")),
        out=str(tmp_path / "run"),
        lr=1e-30,
        head_lr=1e-30,
        max_steps=20,
        eval_steps=1,
        early_stopping=2,
        valid_fraction=0.25,
        batch_size=8,
        logging_steps=100,
        extra={"disable_tqdm": True},
    )
    data = synthetic(32)
    plain = train(config.replace(out=str(tmp_path / "plain")), data=data, verbose=False)
    assert plain.folds[0].steps == 3

    class Interrupt(transformers.TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 3:  # checkpoint-2 and its evaluation are written
                raise RuntimeError("interrupted")

    class Interrupted(trainer_module.Trainer):
        def __init__(self, *args, **kwargs):
            kwargs["callbacks"] = [*kwargs.get("callbacks", []), Interrupt()]
            super().__init__(*args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(trainer_module, "Trainer", Interrupted)
        with pytest.raises(RuntimeError, match="interrupted"):
            train(config, data=data, verbose=False)
    assert (tmp_path / "run" / "checkpoints" / "checkpoint-2").is_dir()
    resumed = train(config.replace(resume=True), data=data, verbose=False)
    assert resumed.folds[0].steps == plain.folds[0].steps
    assert resumed.folds[0].metrics == plain.folds[0].metrics


@pytest.mark.parametrize("valid_fraction", [0.0, 0.25], ids=["last-step", "best-checkpoint"])
def test_a_run_stopped_after_its_last_step_resumes_to_the_same_model(
    tiny_dir, tmp_path, monkeypatch, valid_fraction
):
    # Stopped once training has finished but before the model is saved: every checkpoint is
    # written, the last at max_steps. Resumed, no step may be trained again (the Trainer, resumed
    # at max_steps mid-epoch, took one more step: 13 of 12, and changed the weights).
    from hiddenpool.train import TrainConfig, train
    from hiddenpool.train.model import PooledModel

    config = TrainConfig(
        data="synthetic",
        model=str(tiny_dir("bert")),
        out=str(tmp_path / "run"),
        max_steps=6,
        eval_steps=3,
        valid_fraction=valid_fraction,
        early_stopping=0,
        batch_size=4,
        lr=0.1,  # so large that step 6 is worse than step 3: the best checkpoint is not the last
        keep_checkpoints=True,
        logging_steps=100,
        extra={"disable_tqdm": True},
    )
    data = synthetic(20)  # 20 or 15 training rows: 5 or 4 steps an epoch, so step 6 is mid-epoch
    plain = train(config.replace(out=str(tmp_path / "plain")), data=data, verbose=False)
    last = json.loads(
        (plain.out / "checkpoints" / "checkpoint-6" / "trainer_state.json").read_text()
    )
    assert last["best_global_step"] == (3 if valid_fraction else None)

    def stop(self, directory):
        raise RuntimeError("stopped before saving")

    with monkeypatch.context() as patch:
        patch.setattr(PooledModel, "save_pretrained", stop)
        with pytest.raises(RuntimeError, match="stopped before saving"):
            train(config, data=data, verbose=False)
    assert (tmp_path / "run" / "checkpoints" / "checkpoint-6").is_dir()
    resumed = train(config.replace(resume=True), data=data, verbose=False)
    assert resumed.folds[0].steps == plain.folds[0].steps == 6
    assert resumed.folds[0].metrics == plain.folds[0].metrics
    for name in ("model.safetensors", "pooled_head.safetensors"):
        again, first = load_file(resumed.out / name), load_file(plain.out / name)
        for key, tensor in first.items():
            assert np.array_equal(again[key].numpy(), tensor.numpy()), (name, key)
