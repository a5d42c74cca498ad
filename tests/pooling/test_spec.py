"""The spec language: canonical round trips, widths, layer resolution, clear errors."""

from __future__ import annotations

import pytest

from hiddenpool.pooling import LayerSelection, parse_strategy

CANONICAL = [
    "mean",
    "cls@concat(-4:)",
    "mean@1,-1",
    "meanmax@-2",
    "gem(p=2)",
    "mean(skip_special=true)@-4:",
    "cls@lstm(1:)",
    "first+last@sum(0,2:4)",
    "attn@-2",
    "pooler",
    "mean@weighted(4:)",
]


@pytest.mark.parametrize("spec", CANONICAL)
def test_canonical_specs_round_trip(spec):
    strategy = parse_strategy(spec)
    assert str(strategy) == spec
    assert parse_strategy(str(strategy)) == strategy
    assert hash(strategy) == hash(parse_strategy(spec))


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("mean@-1", "mean"),
        ("mean@mean(-1)", "mean"),
        ("gem(p=3)", "gem"),
        ("gem(p=3.0)@-2", "gem@-2"),
        ("mean(skip_special=no)", "mean"),
        (" max @ -4: ", "max@-4:"),
        ("mean@mean(-4:)", "mean@-4:"),
    ],
)
def test_defaults_are_dropped_from_the_canonical_form(written, canonical):
    assert str(parse_strategy(written)) == canonical


@pytest.mark.parametrize(
    ("spec", "layers"),
    [
        ("mean", (6,)),
        ("mean@0", (0,)),
        ("mean@-4:", (3, 4, 5, 6)),
        ("mean@1,-1", (1, 6)),
        ("cls@concat(-4:)", (3, 4, 5, 6)),
        ("mean@:2", (0, 1)),
        ("mean@2:-2", (2, 3, 4)),
    ],
)
def test_layers_resolve_like_python_indexing_of_hidden_states(spec, layers):
    assert parse_strategy(spec).layers.resolve(6) == layers


@pytest.mark.parametrize(
    ("spec", "width"),
    [
        ("mean", 384),
        ("meanmax", 768),
        ("cls@concat(-4:)", 1536),
        ("meanmax@concat(1,-1)", 1536),
        ("first+mean+max@-2", 1152),
        ("cls@lstm(1:)", 384),
        ("mean@weighted(2:)", 384),
    ],
)
def test_width_is_hidden_size_times_the_factor(spec, width):
    assert parse_strategy(spec).width(384, 6) == width


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("avg", r"unknown pooler 'avg'; choose from cls, first, last, pooler, .*mean, max"),
        ("mean@x", r"layer 'x' is not an integer index"),
        ("mean@median(1)", r"unknown combiner 'median'; choose from mean, sum, concat"),
        ("gem(q=2)", r"gem takes key=value options from: p, skip_special"),
        ("gem(p=big)", r"p takes a number, got 'big'"),
        ("mean(skip_special=maybe)", r"skip_special takes true or false"),
        ("pooler@-2", r"pooler is the model's own output"),
        ("mean@", r"no layers after '@'"),
        ("mean@1:2:3", r"takes no step"),
        ("", r"non-empty string"),
        ("cls(", r"is not NAME or NAME\(key=value"),
    ],
)
def test_bad_specs_name_what_is_valid(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_strategy(spec)


def test_out_of_range_layers_fail_when_resolved_against_a_model():
    with pytest.raises(
        ValueError, match=r"layer 7 is out of range: this model has 7 hidden_states"
    ):
        LayerSelection((7,)).resolve(6)
    with pytest.raises(ValueError, match=r"selects no layer"):
        parse_strategy("mean@5:2").layers.resolve(6)
