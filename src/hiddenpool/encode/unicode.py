"""The lone-surrogate check of :mod:`hiddenpool.backbone.unicode`, with the prompt template too.

:func:`.windows.tokenize_windows` catches a tokenizer's bare ``TypeError`` and only then looks
at the texts and the template to name the culprit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from hiddenpool.backbone.unicode import EXPECTED, check_texts, unicode_problem

if TYPE_CHECKING:
    from hiddenpool.pooling.templates import Template

__all__ = ["check_unicode", "unicode_problem"]


def check_unicode(texts: Sequence[object], template: Template | None = None) -> None:
    """ValueError naming the first text (by index) or else the template that UTF-8 cannot
    encode; returns quietly when all can (the tokenizer refused them for another reason).

    Raises:
        ValueError: ``texts[1] is not valid Unicode: a lone surrogate '\\ud800' at character 4;
            expected text UTF-8 can encode (...)``.
    """
    check_texts(texts)
    problem = unicode_problem(template.text) if template is not None else None
    if template is not None and problem:
        raise ValueError(
            f"template {template.name!r} is not valid Unicode: {problem}; {EXPECTED}"
        ) from None
