"""Long texts in overlapping windows: every token pooled once, the documented merge formulas."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hiddenpool import Encoder
from hiddenpool.backbone import load_backbone
from hiddenpool.encode import tokenize_windows
from hiddenpool.pooling import create_pooler
from hiddenpool.pooling.templates import create_template
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


# --- prompt templates: each chunk of a long text placed in the template ---------------------

TEMPLATED = ["promptbert:mean", "echo:max", "query:sum@-2:", "query:min", "echo:cls", "query:last"]


def _hand_chunks(tokenizer, doc: str, name: str, max_length: int, stride: int) -> list[str]:
    """The chunks as the docs define them, by hand: the text's words (one token each in the
    tiny word-level vocabularies), as many per window as the template leaves room for."""
    template = create_template(name)
    around = len(tokenizer(template.render("one", tokenizer.mask_token).string)["input_ids"])
    size = (max_length - around + template.copies) // template.copies  # the template's tokens
    words, chunks, start = doc.split(), [], 0
    while True:
        chunks.append(" ".join(words[start : start + size]))
        if start + size >= len(words):
            return chunks
        start += size - stride


def _merge_by_hand(spec: str, vectors: np.ndarray, sizes: list[int], summary: str) -> np.ndarray:
    pooler = spec.split(":")[1].split("@")[0]
    if pooler == "mean":
        return (vectors * np.asarray(sizes)[:, None]).sum(0) / sum(sizes)
    if pooler in ("max", "min"):
        return vectors.max(0) if pooler == "max" else vectors.min(0)
    if pooler == "sum":
        return vectors.sum(0)
    if pooler == "cls":
        return vectors[0] if summary == "first" else vectors[-1]
    return vectors[-1]  # last: the last window's last token


@pytest.mark.parametrize("family", ["bert", "xlnet"])
@pytest.mark.parametrize("stride", [0, 3])
def test_templated_chunks_equal_a_hand_built_reference(family, stride, tiny_backbone):
    """Each hand-cut chunk pooled through the Encoder (truncate, the chunk in the template),
    merged by the documented rules. With stride 0 the chunks do not overlap and every reduction
    merges exactly; with a stride, each window reduces over the text tokens it owns only (tested
    at layer 0 below), and cls and last still read one whole window."""
    backbone = tiny_backbone(family)
    doc = _document(41)
    specs = [s for s in TEMPLATED if stride == 0 or s.endswith((":cls", ":last"))]
    chunked = Encoder(backbone, max_length=24, long="chunk", stride=stride, normalize=False)
    result = chunked.embed([doc, "the movie"], specs, batch_tokens=60)
    assert result.num_truncated == 1
    single = Encoder(backbone, max_length=24, normalize=False)
    for spec in specs:
        chunks = _hand_chunks(backbone.tokenizer, doc, spec.split(":")[0], 24, stride)
        assert len(chunks) >= 3
        vectors = single.encode_many(chunks, [spec])[spec]
        sizes = [len(c.split()) for c in chunks]
        expected = _merge_by_hand(spec, vectors, sizes, backbone.facts.summary)
        np.testing.assert_allclose(result.vectors[spec][0], expected, atol=1e-5, err_msg=spec)
        fits = single.encode_many(["the movie"], [spec])[spec][0]
        np.testing.assert_allclose(result.vectors[spec][1], fits, atol=1e-6)  # one window


@pytest.mark.parametrize("stride", [0, 1, 4])
def test_layer0_templated_chunks_count_every_text_token_once(stride, context_free):
    """At layer 0 of a context-free model, a reduction over the text merged across windows is
    the reduction over the whole text in the template: overlaps are pooled once."""
    backbone = context_free("bert")
    docs = [_document(33), _document(17, seed=2)]
    specs = ["query:mean@0", "echo:sum@0", "promptbert:weighted_mean@0", "query:gem(p=2)@0"]
    specs += ["promptbert:mean_sqrt_len@0", "echo:meanmax@0"]
    whole = Encoder(backbone, max_length=80, normalize=False).encode_many(docs, specs)
    chunked = Encoder(backbone, max_length=20, long="chunk", stride=stride, normalize=False)
    result = chunked.embed(docs, specs, batch_tokens=45)
    assert result.num_truncated == 2
    for spec in specs:
        np.testing.assert_allclose(
            result.vectors[spec], whole[spec], rtol=1e-5, atol=2e-5, err_msg=f"{stride} {spec}"
        )


def test_templated_windows_own_every_text_token_once(tiny_backbone):
    tokenizer = tiny_backbone("roberta").tokenizer
    doc = _document(70)
    for name in ("promptbert", "echo", "query"):
        for stride in (0, 2, 5):
            windows = tokenize_windows(tokenizer, [doc], 30, "chunk", stride, create_template(name))
            start, stop = windows.spans["text_mask"]
            owned = [
                t
                for i in range(windows.num_windows)
                for t in windows.features["input_ids"][i][start[i] : stop[i]]
            ]
            assert owned == tokenizer(doc, add_special_tokens=False)["input_ids"], (name, stride)
            assert max(windows.lengths) <= 30 and windows.num_windows > 2
            if name == "promptbert":  # every window keeps its template's mask token
                masks = windows.spans["mask_token_mask"][0]
                ids = windows.features["input_ids"]
                assert all(ids[i][m] == tokenizer.mask_token_id for i, m in enumerate(masks))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("promptbert:mask", "one mask token per window and no rule merges them"),
        ("query:mean(include_prompt=true)", "include_prompt=true pools the tokens of template"),
    ],
)
def test_templated_readings_of_the_template_itself_are_refused(spec, message, tiny_backbone):
    encoder = Encoder(tiny_backbone("bert"), max_length=24, long="chunk")
    with pytest.raises(ValueError, match=message):
        encoder.encode_many([_document(40)], [spec])


def test_a_template_without_room_for_the_stride_names_it(tiny_backbone):
    encoder = Encoder(tiny_backbone("bert"), max_length=16, long="chunk", stride=3)
    with pytest.raises(
        ValueError, match=r"template 'echo' leaves 3 text tokens per window at max_length 16"
    ):
        encoder.encode_many([_document(40)], ["echo:mean"])
