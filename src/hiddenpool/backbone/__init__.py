"""Loading checkpoints of any family and capturing the layers pooling needs."""

from hiddenpool.backbone.capture import capture_hidden_states
from hiddenpool.backbone.families import FAMILIES, FamilyFacts, family_facts
from hiddenpool.backbone.loading import (
    DEFAULT_MODEL,
    Backbone,
    PoolerStatus,
    default_model_path,
    load_backbone,
)
from hiddenpool.states import HiddenStates, resolve_layer

__all__ = [
    "DEFAULT_MODEL",
    "FAMILIES",
    "Backbone",
    "FamilyFacts",
    "HiddenStates",
    "PoolerStatus",
    "capture_hidden_states",
    "default_model_path",
    "family_facts",
    "load_backbone",
    "resolve_layer",
]
