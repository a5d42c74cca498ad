"""Name the text a tokenizer refused for not being valid Unicode: a lone surrogate.

A Python str can hold a lone surrogate (``json.loads('"\\ud800"')``, a file decoded with
``errors="surrogateescape"``, a command-line argument of undecodable bytes). UTF-8 cannot encode
one, and a fast tokenizer refuses the whole batch with a bare ``TypeError`` that names neither
the text nor the problem. Checking every text first would add an encode per text on the normal
path; instead the callers of the tokenizer (:meth:`.Backbone.tokenize`,
:func:`hiddenpool.encode.windows.tokenize_windows`) catch the refusal and only then look at the
texts to name the culprit.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["EXPECTED", "check_texts", "unicode_problem"]

EXPECTED = "expected text UTF-8 can encode (an unpaired escape such as \\ud800 gives one)"


def unicode_problem(text: str) -> str | None:
    """None when UTF-8 can encode ``text``; else where its first lone surrogate is.

    >>> unicode_problem("ok"), unicode_problem("bad \\udc80 text")
    (None, "a lone surrogate '\\\\udc80' at character 4")
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        return f"a lone surrogate {text[error.start]!r} at character {error.start}"
    return None


def check_texts(texts: Sequence[object]) -> None:
    """ValueError naming the first text (by index) UTF-8 cannot encode; returns quietly when all
    can (the tokenizer refused them for another reason).

    Raises:
        ValueError: ``texts[1] is not valid Unicode: a lone surrogate '\\ud800' at character 4;
            expected text UTF-8 can encode (...)``.
    """
    for i, text in enumerate(texts):
        problem = unicode_problem(text) if isinstance(text, str) else None
        if problem:
            raise ValueError(f"texts[{i}] is not valid Unicode: {problem}; {EXPECTED}") from None
