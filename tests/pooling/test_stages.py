"""The ``| STAGE`` suffix: canonical round trips, widths, and one clear error per mistake."""

from __future__ import annotations

import pytest

from hiddenpool.pooling import parse_strategy
from hiddenpool.pooling.stages import STAGES, StageSpec, stages_dtype

CANONICAL = [
    "mean@-4: | whiten(256)",
    "cls | pca(128) | normalize",
    "mean | truncate(128)",
    "mean | int8",
    "mean | binary",
    "cls@concat(-4:) | center | ubinary",
    "mean | normalize | uint8",
]


@pytest.mark.parametrize("spec", CANONICAL)
def test_stage_specs_round_trip(spec):
    strategy = parse_strategy(spec)
    assert str(strategy) == spec
    assert parse_strategy(str(strategy)) == strategy
    assert hash(strategy) == hash(parse_strategy(spec))


def test_spacing_does_not_matter_and_pooling_drops_the_stages():
    strategy = parse_strategy("mean@-4:|whiten( 256 )|normalize")
    assert str(strategy) == "mean@-4: | whiten(256) | normalize"
    assert strategy.stages == (StageSpec("whiten", 256), StageSpec("normalize"))
    assert strategy.pooling == parse_strategy("mean@-4:")
    assert strategy != strategy.pooling  # a stage makes another strategy
    assert strategy.capture_request(6) == strategy.pooling.capture_request(6)


@pytest.mark.parametrize(
    ("spec", "width", "dtype"),
    [
        ("mean", 384, "float32"),
        ("mean | whiten(256)", 256, "float32"),
        ("meanmax | pca(100) | normalize", 100, "float32"),
        ("mean | truncate(128) | int8", 128, "int8"),
        ("mean | binary", 48, "int8"),
        ("mean | truncate(100) | ubinary", 13, "uint8"),  # 100 bits padded to 13 bytes
        ("cls@concat(-2:) | center", 768, "float32"),
    ],
)
def test_width_and_dtype_follow_the_stages(spec, width, dtype):
    strategy = parse_strategy(spec)
    assert strategy.width(384, 6) == width
    assert stages_dtype(strategy.stages) == dtype


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("whiten(256) | mean", "whiten is a stage: it comes after pooling"),
        ("normalize", "normalize is a stage"),
        ("| int8", "stages come after a pooling spec"),
        ("mean | int8 | normalize", "int8 quantises: it must be the last stage"),
        ("mean | whiten", "write whiten(k), k >= 1"),
        ("mean | pca(0)", "write pca(k), k >= 1"),
        ("mean | truncate(x)", "write truncate(k)"),
        ("mean | normalize(2)", "normalize takes no argument"),
        ("mean | blur", "unknown stage 'blur'"),
        ("mean |", "unknown stage ''"),
    ],
)
def test_bad_stages_fail_with_one_clear_message(spec, message):
    with pytest.raises(ValueError, match="invalid pooling spec") as error:
        parse_strategy(spec)
    assert message in str(error.value)


def test_a_stage_wider_than_its_input_is_refused_with_the_widths():
    with pytest.raises(ValueError, match=r"whiten\(512\) keeps 512 dimensions .* have 384"):
        parse_strategy("mean | whiten(512)").width(384, 6)
    with pytest.raises(ValueError, match=r"truncate\(300\) keeps 300 .* have 256"):
        parse_strategy("mean | pca(256) | truncate(300)").width(384, 6)


def test_every_stage_parses_and_lists_what_it_is():
    for name, entry in STAGES.items():
        text = f"mean | {name}(8)" if entry.takes_k else f"mean | {name}"
        assert str(parse_strategy(text)) == text
        assert entry.description


def test_strategies_lists_every_stage_and_its_examples_parse(capsys):
    from hiddenpool.cli.main import main
    from hiddenpool.cli.strategies_cmd import EXAMPLES

    assert main(["strategies"]) == 0
    out = capsys.readouterr().out
    listing = out.split("Stages after pooling")[1].split("Examples:")[0]
    for name, entry in STAGES.items():
        assert f"  {name}(k)" in listing if entry.takes_k else f"  {name}" in listing
    for spec, _ in EXAMPLES:
        assert str(parse_strategy(spec)) == spec
