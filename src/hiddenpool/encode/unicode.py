"""Name the text a tokenizer refused for not being valid Unicode: a lone surrogate.

A Python str can hold a lone surrogate (``json.loads('"\\ud800"')``, a file decoded with
``errors="surrogateescape"``, a command-line argument of undecodable bytes). UTF-8 cannot encode
one, and a fast tokenizer refuses the whole batch with a bare ``TypeError`` that names neither
the text nor the problem. Checking every text first would add an encode per text on the normal
path; instead :func:`.windows.tokenize_windows` catches the refusal and only then looks at the
texts (and the template) to name the culprit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hiddenpool.pooling.templates import Template

__all__ = ["check_unicode", "unicode_problem"]

_EXPECTED = "expected text UTF-8 can encode (an unpaired escape such as \\ud800 gives one)"


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


def check_unicode(texts: Sequence[object], template: Template | None = None) -> None:
    """ValueError naming the first text (by index) or else the template that UTF-8 cannot
    encode; returns quietly when all can (the tokenizer refused them for another reason).

    Raises:
        ValueError: ``texts[1] is not valid Unicode: a lone surrogate '\\ud800' at character 4;
            expected text UTF-8 can encode (...)``.
    """
    for i, text in enumerate(texts):
        problem = unicode_problem(text) if isinstance(text, str) else None
        if problem:
            raise ValueError(f"texts[{i}] is not valid Unicode: {problem}; {_EXPECTED}") from None
    problem = unicode_problem(template.text) if template is not None else None
    if template is not None and problem:
        raise ValueError(
            f"template {template.name!r} is not valid Unicode: {problem}; {_EXPECTED}"
        ) from None
