"""hiddenpool: the right sentence vector from any Hugging Face transformer, with evidence.

The public API below is imported when first used (PEP 562), so ``import hiddenpool`` and the
command line's ``--help`` do not load torch and transformers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hiddenpool.backbone import Backbone, HiddenStates, load_backbone
    from hiddenpool.encode import Encoder
    from hiddenpool.pooling import (
        Pooler,
        Strategy,
        create_pooler,
        list_combiners,
        list_poolers,
        parse_strategy,
    )

__version__ = "0.1.0"

__all__ = [
    "Backbone",
    "Encoder",
    "HiddenStates",
    "Pooler",
    "Strategy",
    "__version__",
    "create_pooler",
    "list_combiners",
    "list_poolers",
    "load_backbone",
    "parse_strategy",
]

# Where each public name lives.
_HOMES = {
    "Backbone": "hiddenpool.backbone",
    "HiddenStates": "hiddenpool.states",
    "load_backbone": "hiddenpool.backbone",
    "Encoder": "hiddenpool.encode",
    "Pooler": "hiddenpool.pooling",
    "Strategy": "hiddenpool.pooling",
    "create_pooler": "hiddenpool.pooling",
    "list_combiners": "hiddenpool.pooling",
    "list_poolers": "hiddenpool.pooling",
    "parse_strategy": "hiddenpool.pooling",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'hiddenpool' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES[name]), name)
    globals()[name] = value  # found once; later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
