"""Long texts in overlapping windows: every token pooled once, the documented merge formulas."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hiddenpool import Encoder
from hiddenpool.backbone import load_backbone
from hiddenpool.encode import tokenize_windows
from hiddenpool.pooling import create_pooler
from tiny_models import WORDS

pytestmark = pytest.mark.usefixtures("one_thread")


MERGEABLE = [
    "mean",
    "max",
    "min",
    "sum",
    "mean_sqrt_len",
    "gem(p=2)",
    "weighted_mean",
    "meanmax",
    "cls",
    "first",
    "last",
    "mean(skip_special=true)",
    "weighted_mean(skip_special=true)",
]


def _document(n_words: int, seed: int = 0) -> str:
    return " ".join(np.random.default_rng(seed).choice(WORDS, n_words))


@pytest.fixture(scope="module")
def context_free(tiny_dir):
    """Loader of tiny models whose layer 0 depends on the token alone (positions zeroed), so a
    token's layer-0 state is the same in any window and in the whole document."""

    def load(family: str):
        backbone = load_backbone(tiny_dir(family))
        with torch.no_grad():
            for name, param in backbone.model.named_parameters():
                if "position" in name or name.startswith("wpe"):
                    param.zero_()
        return backbone

    return load


@pytest.mark.parametrize("family", ["bert", "roberta", "xlnet", "gpt2", "llama"])
@pytest.mark.parametrize("stride", [0, 1, 3, 4])
def test_layer0_chunks_equal_the_whole_document(family, stride, context_free):
    backbone = context_free(family)
    texts = [_document(50), "the movie", _document(23, seed=1), ""]
    specs = [f"{s}@0" for s in MERGEABLE]
    whole = Encoder(backbone, max_length=64, normalize=False).encode_many(texts, specs)
    chunked = Encoder(backbone, max_length=10, long="chunk", stride=stride, normalize=False)
    result = chunked.embed(texts, specs, batch_tokens=25)
    assert result.num_truncated == 2
    for spec in specs:
        np.testing.assert_allclose(
            result.vectors[spec],
            whole[spec],
            rtol=1e-5,
            atol=2e-5,
            err_msg=f"{family} stride={stride} {spec}",
        )


def _manual(backbone, doc: str, max_length: int, stride: int, spec: str) -> np.ndarray:
    """The documented merge, computed by hand from one capture per window."""
    windows = tokenize_windows(backbone.tokenizer, [doc], max_length, "chunk", stride)
    pooler = create_pooler(spec, backbone.hidden_size, backbone.num_layers)
    sums, counts, maxima = [], [], []
    for i in range(windows.num_windows):
        batch = {k: torch.tensor([v[i]]) for k, v in windows.features.items()}
        with torch.no_grad():
            states = backbone.capture(batch, pooler.strategy.capture_request(backbone.num_layers))
        hidden = torch.stack([states.layer(j) for j in pooler.layer_indices]).mean(0)[0]
        owned = hidden[windows.pool_start[i] : windows.pool_stop[i]]
        sums.append(owned.sum(0))
        counts.append(owned.shape[0])
        maxima.append(owned.max(0).values)
    if spec.startswith("mean"):
        return (torch.stack(sums).sum(0) / sum(counts)).numpy()
    return torch.stack(maxima).max(0).values.numpy()


@pytest.mark.parametrize("spec", ["mean", "mean@-2:", "max@1,-1"])
def test_deep_layers_follow_the_documented_formula(spec, tiny_backbone):
    backbone = tiny_backbone("bert")
    doc = _document(45)
    encoder = Encoder(backbone, max_length=12, long="chunk", stride=4, normalize=False)
    got = encoder.encode_many([doc, "short one"], [spec])[spec][0]
    np.testing.assert_allclose(got, _manual(backbone, doc, 12, 4, spec), atol=1e-5)


def test_windows_own_every_content_token_once(tiny_backbone):
    tokenizer = tiny_backbone("bert").tokenizer
    doc = _document(40)
    full = tokenizer(doc)["input_ids"]
    for stride in (0, 2, 5):
        windows = tokenize_windows(tokenizer, [doc, "good"], 11, "chunk", stride)
        owned = [
            t
            for i in range(windows.num_windows)
            if windows.doc[i] == 0
            for t in windows.features["input_ids"][i][windows.pool_start[i] : windows.pool_stop[i]]
        ]
        assert owned == full, stride  # [CLS] content [SEP], in order, nothing twice
        assert all(len(w) <= 11 for w in windows.features["input_ids"])
        assert windows.count.tolist()[1] == 1 and windows.truncated.tolist() == [True, False]


def test_texts_that_fit_one_window_are_identical_in_both_modes(tiny_backbone):
    backbone = tiny_backbone("bert")
    texts = ["the movie was good", "a great story", ""]
    specs = ["mean", "cls@concat(-2:)", "gem", "weighted_mean"]
    truncated = Encoder(backbone, max_length=20).encode_many(texts, specs)
    chunked = Encoder(backbone, max_length=20, long="chunk").encode_many(texts, specs)
    for spec in specs:
        np.testing.assert_array_equal(truncated[spec], chunked[spec])


def test_truncate_counts_the_texts_it_cuts(tiny_backbone):
    encoder = Encoder(tiny_backbone("bert"), max_length=8)
    result = encoder.embed([_document(20), "good", _document(6), _document(7)], ["mean"])
    assert result.num_truncated == 2  # 20 and 7 words do not fit 8 - 2 special tokens
    assert result.num_tokens == 8 + 3 + 8 + 8


@pytest.mark.parametrize("spec", ["attn", "mean@lstm(-2:)"])
def test_strategies_that_cannot_merge_are_refused(spec, tiny_backbone):
    encoder = Encoder(tiny_backbone("bert"), max_length=8, long="chunk")
    with pytest.raises(ValueError, match=r"truncate|learned"):
        encoder.encode_many([_document(20)], [spec])


@pytest.mark.parametrize(
    ("max_length", "stride", "message"),
    [(2, 0, "leaves no room"), (8, 6, "stride 6 must be"), (8, -1, "stride -1 must be")],
)
def test_impossible_windows_are_refused(max_length, stride, message, tiny_backbone):
    with pytest.raises(ValueError, match=message):
        Encoder(tiny_backbone("bert"), max_length=max_length, long="chunk", stride=stride)
