"""Left padding on a real decoder: hiddenpool's batched vectors against plain transformers.

hiddenpool pads decoder batches on the left and finds the last real token from the attention
mask. This checks it on a trained checkpoint (bench/decoder_study.py runs it on the decoder
pretrained here): texts of different lengths embedded in one padded batch by
:class:`hiddenpool.Encoder` (``last``, ``mean``, ``echo:mean``, ``prompteol:last``) against a
hand-written loop that runs ``AutoModel`` on one text at a time, unpadded, and reads the last
token, the mean over every token, or the mean over the echo's second copy (by character offsets).
tests/pretrain/test_pretrain_clm.py holds a tiny pretrained decoder to the same reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer

__all__ = ["ECHO", "PROMPTEOL", "padding_check", "reference"]

ECHO = "Rewrite the sentence: {text}, rewritten sentence: {text}"
PROMPTEOL = 'This sentence : "{text}" means in one word:"'


def reference(
    folder: Path, strings: Sequence[str], spans: Sequence[tuple[int, int]] | None = None
) -> dict[str, np.ndarray]:
    """Plain transformers, one text at a time: ``last`` (the last token's final hidden state)
    and ``mean`` (over every token, or over the tokens overlapping ``spans[i]``, a character
    range of ``strings[i]``)."""
    model = AutoModel.from_pretrained(folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    last, mean = [], []
    for i, string in enumerate(strings):
        encoded = tokenizer(string, return_offsets_mapping=True, return_tensors="pt")
        with torch.no_grad():
            hidden = model(input_ids=encoded["input_ids"]).last_hidden_state[0]  # (T, H)
        last.append(hidden[-1])
        if spans is None:
            mean.append(hidden.mean(0))
            continue
        start, stop = spans[i]
        offsets = encoded["offset_mapping"][0].tolist()
        inside = [j for j, (a, b) in enumerate(offsets) if a < stop and b > start]
        mean.append(hidden[inside].mean(0))
    return {"last": torch.stack(last).numpy(), "mean": torch.stack(mean).numpy()}


def padding_check(folder: Path, texts: Sequence[str]) -> dict[str, object]:
    """Largest absolute difference per strategy between one padded batch and the loop.

    The texts must fit the model's max length in every form (the echo doubles them): a
    truncated text would differ for that reason alone, so longer ones are refused.
    """
    from hiddenpool import Encoder

    encoder = Encoder(str(folder), normalize=False)
    tokenizer = encoder.backbone.tokenizer
    echo = [ECHO.format(text=t) for t in texts]
    eol = [PROMPTEOL.format(text=t) for t in texts]
    longest = max(len(tokenizer(s)["input_ids"]) for s in [*echo, *eol])
    if longest > encoder.backbone.max_length:
        raise ValueError(f"texts: {longest} tokens in the echo, over the model's max length")
    got = {
        spec: encoder.encode(list(texts), spec, batch_size=len(texts))
        for spec in ("last", "mean", "echo:mean", "prompteol:last")
    }
    plain = reference(folder, texts)
    second = [(len(e) - len(t), len(e)) for e, t in zip(echo, texts, strict=True)]
    expected = {
        "last": plain["last"],
        "mean": plain["mean"],
        "echo:mean": reference(folder, echo, second)["mean"],
        "prompteol:last": reference(folder, eol)["last"],
    }
    lengths = [len(tokenizer(t)["input_ids"]) for t in texts]
    return {
        "texts": len(texts),
        "tokens": {"min": min(lengths), "max": max(lengths)},
        "padding_side": tokenizer.padding_side,
        "max_abs_diff": {
            spec: float(np.abs(got[spec] - expected[spec]).max()) for spec in expected
        },
    }
