"""A sentence-transformers module that runs any hiddenpool strategy.

``SentenceTransformer(folder)`` imports this class by the name written in ``modules.json`` when the
strategy is one sentence-transformers cannot express itself (layer combinations, attn, gem...).
It tokenises, captures the needed layers and pools exactly as :class:`hiddenpool.Encoder` does,
a prompt template included (the text placed in it, its spans padded into masks); a user's
template is saved with the folder and registered again when it loads.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from hiddenpool.backbone import Backbone, load_backbone
from hiddenpool.encode.batching import pad_windows, tokenizer_pad_values
from hiddenpool.encode.windows import tokenize_windows
from hiddenpool.pooling import Pooler, create_pooler
from hiddenpool.pooling.templates import create_template, register_template

__all__ = ["CONFIG_NAME", "POOLER_WEIGHTS", "HiddenpoolPooling"]

CONFIG_NAME = "hiddenpool_module.json"
POOLER_WEIGHTS = "hiddenpool_pooler.safetensors"
_SPANS = ("text_mask", "mask_token_mask")


class HiddenpoolPooling(nn.Module):
    """Tokeniser + backbone + hiddenpool pooler as one sentence-transformers module.

    Args:
        backbone: the loaded backbone.
        pooling: the strategy spec.
        max_length: truncation length in tokens.
    """

    def __init__(
        self, backbone: Backbone, pooling: str, max_length: int, pooler: Pooler | None = None
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.model = backbone.model  # registered, so SentenceTransformer.to(device) moves it
        self.max_length = max_length
        self.pooler: Pooler = pooler or create_pooler(
            pooling, backbone.hidden_size, backbone.num_layers
        )
        strategy = self.pooler.strategy
        self._request = strategy.capture_request(backbone.num_layers)
        self.template = create_template(strategy.template) if strategy.template else None

    def tokenize(self, texts: list[str], **kwargs: Any) -> dict[str, Tensor]:
        """Tokenise like hiddenpool: padded batch with a special-tokens mask (and, under a
        template, the masks of the text's tokens and of the template's mask token)."""
        if self.template is None:
            return self.backbone.tokenize(texts, self.max_length)
        tokenizer = self.backbone.tokenizer
        windows = tokenize_windows(tokenizer, texts, self.max_length, template=self.template)
        padded = pad_windows(
            windows.features,
            np.arange(len(texts)),
            tokenizer_pad_values(tokenizer),
            left=tokenizer.padding_side == "left",
            spans=windows.spans,
        )
        return {k: torch.from_numpy(v).to(self.backbone.device) for k, v in padded.items()}

    def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        batch = {k: v for k, v in features.items() if isinstance(v, Tensor)}
        spans = {k: batch.pop(k).bool() if k in batch else None for k in _SPANS}
        states = self.backbone.capture(batch, self._request)
        if self.template is not None:
            states = replace(
                states, text_mask=spans["text_mask"], mask_token_mask=spans["mask_token_mask"]
            )
        features["sentence_embedding"] = self.pooler(states)
        return features

    def get_sentence_embedding_dimension(self) -> int:
        return int(self.pooler.width)

    get_embedding_dimension = get_sentence_embedding_dimension

    def save(self, output_path: str, *args: Any, **kwargs: Any) -> None:
        """Write backbone, tokenizer and the spec under ``output_path``."""
        folder = Path(output_path)
        folder.mkdir(parents=True, exist_ok=True)
        self.backbone.model.save_pretrained(folder)
        self.backbone.tokenizer.save_pretrained(folder)
        config: dict[str, Any] = {
            "pooling": str(self.pooler.strategy),
            "max_length": self.max_length,
        }
        if self.template is not None:  # a user's template must load where it is not registered
            config["template"] = {"name": self.template.name, "text": self.template.text}
        (folder / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        state = {k: v.detach().contiguous().cpu() for k, v in self.pooler.state_dict().items()}
        if state:  # a learned pooler (trained by PooledModel) keeps its weights
            save_file(state, folder / POOLER_WEIGHTS)

    @staticmethod
    def load(input_path: str) -> HiddenpoolPooling:
        """Read what :meth:`save` wrote (sentence-transformers' one-argument loading)."""
        folder = Path(input_path)
        config = json.loads((folder / CONFIG_NAME).read_text(encoding="utf-8"))
        if "template" in config:
            register_template(config["template"]["name"], config["template"]["text"])
        module = HiddenpoolPooling(load_backbone(folder), config["pooling"], config["max_length"])
        if (folder / POOLER_WEIGHTS).is_file():
            module.pooler.load_state_dict(load_file(folder / POOLER_WEIGHTS))
        module.pooler.eval()
        return module
