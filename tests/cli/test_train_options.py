"""``hiddenpool train``'s options are TrainConfig's fields: generated, complete and faithful."""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass, field

import pytest

from hiddenpool.cli.dataclass_options import add_dataclass_options, dataclass_from_args
from hiddenpool.cli.main import build_parser, command_parser, in_option_terms
from hiddenpool.cli.train_cmd import config_from_args
from hiddenpool.train.config import TrainConfig


def _config(argv: list[str]) -> TrainConfig:
    return config_from_args(build_parser().parse_args(["train", *argv]))


def test_every_field_is_an_option_and_every_option_a_field():
    parser = command_parser(build_parser(), "train")
    # --template registers user templates for the command's specs; it is not a TrainConfig field
    dests = {action.dest for action in parser._actions} - {"help", "quiet", "templates"}
    python_only = {"extra"}
    assert dests == {f.name for f in dataclasses.fields(TrainConfig)} - python_only


def test_no_options_give_the_dataclass_defaults():
    assert _config(["data.csv"]) == TrainConfig(data="data.csv")


def test_each_option_sets_its_field():
    argv = (
        "d.csv --model m --pooling cls@weighted(1:) --task classification --label-column y "
        "--text-column t --out o --folds 3 --valid-fraction 0.2 --fold-seed 7 --metric accuracy "
        "--early-stopping 4 --eval-steps 9 --eval-batch-size 5 --epochs 1.5 --max-steps 11 "
        "--lr 1e-4 --head-lr 1e-3 --llrd 0.9 --weight-decay 0.05 --warmup 20 --scheduler linear "
        "--batch-size 4 --grad-accum 2 --max-grad-norm 0.5 --seed 3 --reinit-layers 1 "
        "--freeze-layers 2 --freeze-embeddings --msd 5 --dropout 0.2 --loss cross_entropy "
        "--grad-checkpointing --precision bf16 --max-length 64 --resume --keep-checkpoints "
        "--save-total-limit 1 --logging-steps 10 --device cpu --num-workers 2 "
        "--trust-remote-code --allow-pickle --quiet"
    ).split()
    expected = TrainConfig(
        data="d.csv",
        model="m",
        pooling="cls@weighted(1:)",
        task="classification",
        label_columns=("y",),
        text_column="t",
        out="o",
        folds=3,
        valid_fraction=0.2,
        fold_seed=7,
        metric="accuracy",
        early_stopping=4,
        eval_steps=9,
        eval_batch_size=5,
        epochs=1.5,
        max_steps=11,
        lr=1e-4,
        head_lr=1e-3,
        llrd=0.9,
        weight_decay=0.05,
        warmup=20.0,
        scheduler="linear",
        batch_size=4,
        grad_accum=2,
        max_grad_norm=0.5,
        seed=3,
        reinit_layers=1,
        freeze_layers=2,
        freeze_embeddings=True,
        msd=5,
        dropout=0.2,
        loss="cross_entropy",
        grad_checkpointing=True,
        precision="bf16",
        max_length=64,
        resume=True,
        keep_checkpoints=True,
        save_total_limit=1,
        logging_steps=10,
        device="cpu",
        num_workers=2,
        trust_remote_code=True,
        allow_pickle=True,
        extra={"disable_tqdm": True},
    )
    assert _config(argv) == expected


@pytest.mark.parametrize("argv", ["a,b", "a b", "a --label-column b"])
def test_label_columns_by_comma_list_or_repeat(argv):
    assert _config(["d.csv", "--label-column", *argv.split()]).label_columns == ("a", "b")


@pytest.mark.parametrize(("flag", "value"), [("--dtype", "bfloat16"), ("--precision", "bf16")])
def test_dtype_is_trainings_precision(flag, value):
    assert _config(["d.csv", flag, value]).precision == "bf16"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--folds", "two"], "argument --folds: invalid int value: 'two'"),
        (["--loss", "hinge"], "argument --loss: invalid choice: 'hinge'"),
        (["--max-length", "0"], "argument --max-length: expected a number >= 1, got 0"),
    ],
)
def test_bad_values_are_refused_in_one_line_naming_the_option(argv, message, capsys):
    with pytest.raises(SystemExit) as exit:
        build_parser().parse_args(["train", "d.csv", *argv])
    assert exit.value.code == 2
    assert message in capsys.readouterr().err.strip().splitlines()[-1]


def test_the_generator_refuses_a_field_without_help():
    @dataclass
    class Undocumented:
        steps: int = 1

    with pytest.raises(TypeError, match=r"Undocumented.steps: no metadata\['help'\]"):
        add_dataclass_options(argparse.ArgumentParser(), Undocumented)


def test_the_generator_on_its_own():
    @dataclass
    class Settings:
        name: str = field(metadata={"help": "what to call it"})
        size: int | None = field(default=None, metadata={"help": "how big"})
        fast: bool = field(default=True, metadata={"help": "go fast"})
        hidden: float = field(default=0.5, metadata={"help": None})

    parser = argparse.ArgumentParser()
    add_dataclass_options(parser, Settings)
    args = parser.parse_args(["x", "--size", "3", "--no-fast"])
    assert dataclass_from_args(Settings, args) == Settings("x", 3, False)
    assert "--hidden" not in parser.format_help()


def test_library_parameters_become_the_commands_options():
    embed = command_parser(build_parser(), "embed")
    cases = {
        "use device='cpu' or backend='torch'": "use --device cpu or --backend torch",
        "add restart=True to start over": "add --restart to start over",
        "restart=False is the default": "restart=False is the default",  # a switch has no 'off'
        "pass allow_pickle=True if": "pass --allow-pickle if",
        "epochs=3 is not an option here": "epochs=3 is not an option here",
        "drop `id_column` or name `text_column`": "drop --id-column or name --text-column",
        "`epochs` alone is kept": "`epochs` alone is kept",
    }
    for message, expected in cases.items():
        assert in_option_terms(message, embed) == expected
    compare = command_parser(build_parser(), "compare")  # a dest that is not its flag's spelling
    assert in_option_terms("with `label_columns`", compare) == "with --label-column"
