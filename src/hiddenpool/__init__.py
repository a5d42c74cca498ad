"""hiddenpool: the right sentence vector from any Hugging Face transformer, with evidence."""

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
