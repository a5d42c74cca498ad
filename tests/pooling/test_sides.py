"""Query and document sides in the spec language: ``QTEMPLATE/DTEMPLATE:POOLER...``."""

from __future__ import annotations

import pytest

from hiddenpool.pooling import parse_strategy
from hiddenpool.pooling.spec import Strategy
from hiddenpool.pooling.templates import SIDE_PAIRS, TEMPLATES, side_pairs

ROUND_TRIP = [
    "query/passage:mean",
    "bge/:cls",
    "/passage:mean@-2 | whiten(8)",
    "search_query/search_document:mean(include_prompt=true)@concat(-2:) | pca(4) | int8",
    "bge/:cls+max@sum(1,-1)",
]


@pytest.mark.parametrize("spec", ROUND_TRIP)
def test_side_pairs_round_trip(spec):
    strategy = parse_strategy(spec)
    assert strategy.asymmetric
    assert str(strategy) == spec
    assert parse_strategy(str(strategy)) == strategy


@pytest.mark.parametrize("spec", ROUND_TRIP)
def test_each_side_is_the_one_sided_spec_written_by_hand(spec):
    strategy = parse_strategy(spec)
    prefix, _, rest = spec.partition(":")
    query, document = prefix.split("/")
    for side, name in (("query", query), ("document", document)):
        body = rest if name else rest.replace("(include_prompt=true)", "")
        expected = parse_strategy(f"{name}:{body}" if name else body)
        assert strategy.for_side(side) == expected
        assert not expected.asymmetric
        # same width on both sides
        assert strategy.for_side(side).width(32, 4) == strategy.width(32, 4)


def test_the_same_template_on_both_sides_is_symmetric():
    assert parse_strategy("query/query:mean") == parse_strategy("query:mean")
    assert parse_strategy("/:cls@-2") == parse_strategy("cls@-2")
    assert str(Strategy(parse_strategy("mean").poolers, sides=("echo", "echo"))) == "echo:mean"
    for spec in ("mean", "query:mean"):
        strategy = parse_strategy(spec)
        assert not strategy.asymmetric
        assert strategy.for_side("query") == strategy.for_side("document") == strategy


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("a/b/c:mean", "has 2 '/': a side pair is QUERY/DOCUMENT"),
        ("query/nope:mean", "the document side: unknown template 'nope'"),
        ("nope/passage:mean", "the query side: unknown template 'nope'"),
        ("promptbert/:mask", "the document side (the text alone): mask reads"),
        ("bge/passage:mask", "the query side (bge): template 'bge'"),
        ("query/passage:pooler", "pooler is the model's own output"),
        ("/:mean(include_prompt=true)", "include_prompt only applies inside a template"),
    ],
)
def test_bad_side_pairs_say_what_is_wrong_in_one_line(spec, says):
    with pytest.raises(ValueError, match="invalid pooling spec") as error:
        parse_strategy(spec)
    assert says in str(error.value)
    assert "\n" not in str(error.value)


def test_a_strategy_has_a_template_or_sides_not_both():
    with pytest.raises(ValueError, match="not both"):
        Strategy(parse_strategy("mean").poolers, template="query", sides=("query", "passage"))
    with pytest.raises(ValueError, match="side must be one of query, document"):
        parse_strategy("bge/:cls").for_side("queries")  # type: ignore[arg-type]


def test_registered_pairs_are_real_templates_with_sources_and_parse():
    assert (
        TEMPLATES["bge"].text == "Represent this sentence for searching relevant passages: {text}"
    )
    assert "arXiv:2309.07597" in TEMPLATES["bge"].source
    specs = side_pairs(mask_token=True)
    assert "query/passage:mean" in specs and "bge/:cls" in specs and "bge/:mean" in specs
    assert len(specs) == sum(len(pair.poolers) for pair in SIDE_PAIRS)
    for spec in specs:
        assert parse_strategy(spec).asymmetric and str(parse_strategy(spec)) == spec


def test_pairs_holding_a_mask_are_left_out_without_a_mask_token(monkeypatch):
    from hiddenpool.pooling import templates

    pair = templates.SidePair("promptbert", None, ("mask",), "test")
    monkeypatch.setattr(templates, "SIDE_PAIRS", (*templates.SIDE_PAIRS, pair))
    assert "promptbert/:mask" in templates.side_pairs(mask_token=True)
    assert "promptbert/:mask" not in templates.side_pairs(mask_token=False)
    assert len(templates.side_pairs(mask_token=False)) == sum(len(p.poolers) for p in SIDE_PAIRS)


def test_a_pooler_reads_one_side():
    from hiddenpool.pooling import create_pooler

    with pytest.raises(ValueError, match="has a query and a document side and a pooler reads one"):
        create_pooler("query/passage:mean", hidden_size=8, num_layers=2)
    side = parse_strategy("query/passage:mean").for_side("query")
    assert create_pooler(side, hidden_size=8, num_layers=2).strategy.template == "query"


def test_hiddenpool_strategies_states_the_syntax_and_the_pairs(capsys):
    from hiddenpool.cli.main import main

    assert main(["strategies"]) == 0
    out = capsys.readouterr().out
    assert "QTEMPLATE/DTEMPLATE:POOLER" in out
    for pair in SIDE_PAIRS:
        assert f"{pair.prefix}:{pair.poolers[0]}" in out and pair.source in out
    assert "bge/:cls" in out and "query/passage:mean" in out
