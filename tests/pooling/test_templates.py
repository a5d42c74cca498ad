"""Prompt templates in the spec language: registration, validation, rendering, round trips."""

from __future__ import annotations

import pytest

from hiddenpool.pooling import parse_strategy
from hiddenpool.pooling.templates import (
    TEMPLATES,
    Template,
    create_template,
    list_templates,
    register_template,
)


def test_registered_templates_carry_the_papers_text():
    assert TEMPLATES["promptbert"].text == 'This sentence : "{text}" means [MASK] .'
    assert TEMPLATES["prompteol"].text == 'This sentence : "{text}" means in one word:"'
    assert TEMPLATES["echo"].text == "Rewrite the sentence: {text}, rewritten sentence: {text}"
    assert TEMPLATES["query"].text == "query: {text}"
    assert TEMPLATES["passage"].text == "passage: {text}"
    assert list_templates(mask=True) == ["promptbert"]
    assert all(TEMPLATES[name].source for name in list_templates())


@pytest.mark.parametrize(
    "spec",
    [
        "promptbert:mask",
        "promptbert:mask@-2",
        "prompteol:last",
        "echo:mean",
        "query:mean",
        "passage:mean(include_prompt=true)@-4:",
        "promptbert:cls+mask@concat(-2:)",
        "echo:max@1,-1",
    ],
)
def test_template_specs_round_trip(spec):
    strategy = parse_strategy(spec)
    assert str(strategy) == spec
    assert parse_strategy(str(strategy)) == strategy
    assert strategy.template == spec.split(":")[0]


def test_a_colon_after_the_layers_is_a_slice_not_a_template():
    strategy = parse_strategy("mean@-4:")
    assert strategy.template is None
    assert strategy.layers.items == ((-4, None),)
    assert parse_strategy("echo:mean@-4:").layers == strategy.layers


def test_templates_change_the_strategy():
    assert parse_strategy("query:mean") != parse_strategy("mean")
    assert parse_strategy("query:mean") != parse_strategy("passage:mean")
    assert parse_strategy("query:mean(include_prompt=false)") == parse_strategy("query:mean")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nosuch:mean", "unknown template 'nosuch'; choose from promptbert"),
        ("mask", "mask reads a template's mask token"),
        ("query:mask", "template 'query' ('query: {text}') has no [MASK]"),
        ("mean(include_prompt=true)", "include_prompt only applies inside a template"),
        ("promptbert:pooler", "does not read a template"),
        ("echo:mean(include_prompt=maybe)", "include_prompt takes true or false"),
    ],
)
def test_bad_template_specs_are_one_clear_error(spec, message):
    with pytest.raises(ValueError, match="invalid pooling spec") as caught:
        parse_strategy(spec)
    assert message in str(caught.value)


def test_render_places_the_last_copy_and_the_model_mask_token():
    rendered = create_template("promptbert").render("a cat", "<mask>")
    assert rendered.string == 'This sentence : "a cat" means <mask> .'
    assert rendered.string[rendered.text_start : rendered.text_stop] == "a cat"
    assert rendered.string[rendered.mask_start : rendered.mask_stop] == "<mask>"
    echo = create_template("echo").render("hi there")
    assert echo.string == "Rewrite the sentence: hi there, rewritten sentence: hi there"
    assert echo.text_start == len("Rewrite the sentence: hi there, rewritten sentence: ")
    assert echo.mask_start == -1
    with pytest.raises(ValueError, match="template 'promptbert' needs a mask token"):
        create_template("promptbert").render("x", None)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("no placeholder here", "needs a {text} placeholder"),
        ("{text} and {other}", "unknown placeholder {other}"),
        ("{text}{\n}", "unknown placeholder '{\\n}'"),  # shown escaped: the error is one line
        ("{text} {", "a lone brace"),
        ("[MASK] {text} [MASK]", "[MASK] appears 2 times"),
    ],
)
def test_user_templates_are_validated_with_their_name(text, message):
    with pytest.raises(ValueError, match=r"template 'mine'") as caught:
        Template("mine", text)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_register_template_makes_a_spec_prefix():
    register_template("topic_test", 'Topic of "{text}": [MASK].')
    strategy = parse_strategy("topic_test:mask@-2")
    assert str(strategy) == "topic_test:mask@-2"
    assert register_template("topic_test", 'Topic of "{text}": [MASK].').has_mask  # idempotent
    with pytest.raises(ValueError, match="already registered"):
        register_template("topic_test", "other {text}")
    with pytest.raises(ValueError, match="use lower-case letters"):
        register_template("Bad-Name", "{text}")
