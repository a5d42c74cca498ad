"""A sentence-transformers module that runs any hiddenpool strategy.

``SentenceTransformer(folder)`` imports this class by the name written in ``modules.json`` when the
strategy is one sentence-transformers cannot express itself (layer combinations, attn, gem...).
It tokenises, captures the needed layers and pools exactly as :class:`hiddenpool.Encoder` does,
a prompt template included (the text placed in it, its spans padded into masks); a user's
template is saved with the folder and registered again when it loads.

A two-sided spec (``query/passage:mean``) keeps a pooler and a template per side: ``encode_query``
reaches :meth:`HiddenpoolPooling.preprocess` with ``task="query"`` and reads the query side;
``encode_document`` and plain ``encode`` read the document side.
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
from hiddenpool.pooling import Pooler, create_pooler, parse_strategy
from hiddenpool.pooling.spec import SIDES, Side
from hiddenpool.pooling.templates import Template, create_template, register_template

__all__ = ["CONFIG_NAME", "POOLER_WEIGHTS", "HiddenpoolPooling"]

CONFIG_NAME = "hiddenpool_module.json"
POOLER_WEIGHTS = "hiddenpool_pooler.safetensors"
_SPANS = ("text_mask", "mask_token_mask")
_SIDE = "hiddenpool_side"  # which side a batch was tokenised for (kept out of the model's inputs)


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
        spec = parse_strategy(pooler.strategy if pooler is not None else pooling)
        self.spec = spec  # both sides: the poolers below are one-sided
        self.pooler: Pooler = pooler or create_pooler(
            spec.for_side("document"), backbone.hidden_size, backbone.num_layers
        )
        self.query_pooler: Pooler = (
            create_pooler(spec.for_side("query"), backbone.hidden_size, backbone.num_layers)
            if spec.asymmetric
            else self.pooler
        )
        self._request = self.pooler.strategy.capture_request(backbone.num_layers)
        self.templates: dict[Side, Template | None] = {
            side: create_template(name) if name else None
            for side in SIDES
            for name in [spec.side_template(side)]
        }
        self.template = self.templates["document"]

    def preprocess(
        self, inputs: list[str], prompt: str | None = None, task: str | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """sentence-transformers >= 5's entry: ``task="query"`` (``encode_query``) tokenises the
        query side, anything else the document side; a ``prompt`` is prepended as it would be."""
        texts = [prompt + text for text in inputs] if prompt else list(inputs)
        side: Side = "query" if task == "query" else "document"
        features: dict[str, Any] = self.tokenize(texts, side=side)
        features[_SIDE] = side
        return features

    def tokenize(
        self, texts: list[str], side: Side = "document", **kwargs: Any
    ) -> dict[str, Tensor]:
        """Tokenise like hiddenpool: padded batch with a special-tokens mask (and, under a
        template, the masks of the text's tokens and of the template's mask token)."""
        template = self.templates[side]
        if template is None:
            return self.backbone.tokenize(texts, self.max_length)
        tokenizer = self.backbone.tokenizer
        windows = tokenize_windows(tokenizer, texts, self.max_length, template=template)
        padded = pad_windows(
            windows.features,
            np.arange(len(texts)),
            tokenizer_pad_values(tokenizer),
            left=tokenizer.padding_side == "left",
            spans=windows.spans,
        )
        return {k: torch.from_numpy(v).to(self.backbone.device) for k, v in padded.items()}

    def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        side: Side = "query" if features.get(_SIDE) == "query" else "document"
        batch = {k: v for k, v in features.items() if isinstance(v, Tensor)}
        spans = {k: batch.pop(k).bool() if k in batch else None for k in _SPANS}
        states = self.backbone.capture(batch, self._request)
        if self.templates[side] is not None:
            states = replace(
                states, text_mask=spans["text_mask"], mask_token_mask=spans["mask_token_mask"]
            )
        pooler = self.query_pooler if side == "query" else self.pooler
        features["sentence_embedding"] = pooler(states)
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
        config: dict[str, Any] = {"pooling": str(self.spec), "max_length": self.max_length}
        if self.template is not None:  # a user's template must load where it is not registered
            config["template"] = {"name": self.template.name, "text": self.template.text}
        query = self.templates["query"]
        if query is not None and query != self.template:
            config["query_template"] = {"name": query.name, "text": query.text}
        (folder / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        state = {k: v.detach().contiguous().cpu() for k, v in self.pooler.state_dict().items()}
        if state:  # a learned pooler (trained by PooledModel) keeps its weights
            save_file(state, folder / POOLER_WEIGHTS)

    @staticmethod
    def load(input_path: str) -> HiddenpoolPooling:
        """Read what :meth:`save` wrote (sentence-transformers' one-argument loading)."""
        folder = Path(input_path)
        config = json.loads((folder / CONFIG_NAME).read_text(encoding="utf-8"))
        for key in ("template", "query_template"):
            if key in config:
                register_template(config[key]["name"], config[key]["text"])
        module = HiddenpoolPooling(load_backbone(folder), config["pooling"], config["max_length"])
        if (folder / POOLER_WEIGHTS).is_file():
            module.pooler.load_state_dict(load_file(folder / POOLER_WEIGHTS))
        module.pooler.eval()
        return module
