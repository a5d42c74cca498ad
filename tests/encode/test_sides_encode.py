"""Encoder on the query and document sides: each side is its one-sided spec, exactly."""

from __future__ import annotations

import numpy as np
import pytest

from hiddenpool import Encoder
from hiddenpool.pooling import parse_strategy
from tiny_models import SENTENCES

pytestmark = pytest.mark.usefixtures("one_thread")

TEXTS = [*SENTENCES, "This is a long review of a film. " * 12]


@pytest.mark.parametrize("family", ["bert", "gpt2"])
def test_each_side_equals_its_one_sided_spec(family, tiny_backbone):
    encoder = Encoder(tiny_backbone(family), normalize=False)
    spec = "query/passage:mean"
    np.testing.assert_array_equal(
        encoder.encode_query(TEXTS, spec), encoder.encode(TEXTS, "query:mean")
    )
    np.testing.assert_array_equal(
        encoder.encode_document(TEXTS, spec), encoder.encode(TEXTS, "passage:mean")
    )
    np.testing.assert_array_equal(
        encoder.encode(TEXTS, spec), encoder.encode(TEXTS, "passage:mean")
    )
    bge = "bge/:cls@-2"
    np.testing.assert_array_equal(
        encoder.encode_document(TEXTS, bge), encoder.encode(TEXTS, "cls@-2")
    )
    np.testing.assert_array_equal(
        encoder.encode_query(TEXTS, bge), encoder.encode(TEXTS, "bge:cls@-2")
    )
    assert not np.allclose(encoder.encode_query(TEXTS, bge), encoder.encode_document(TEXTS, bge))


def test_the_encoders_own_strategy_takes_the_side(tiny_backbone):
    backbone = tiny_backbone("bert")
    sided = Encoder(backbone, pooling="bge/:mean(include_prompt=true)")
    plain = Encoder(backbone)
    np.testing.assert_array_equal(sided.encode(TEXTS), plain.encode(TEXTS, "mean"))
    np.testing.assert_array_equal(
        sided.encode_query(TEXTS), plain.encode(TEXTS, "bge:mean(include_prompt=true)")
    )
    assert sided.width() == plain.width("mean")


def test_one_pass_per_template_of_the_side(tiny_backbone):
    encoder = Encoder(tiny_backbone("bert"))
    specs = ["query/passage:mean", "query/passage:cls@-2", "query:max", "bge/:cls", "mean"]
    query = encoder.embed(TEXTS, specs, side="query")
    document = encoder.embed(TEXTS, specs, side="document")
    assert query.num_passes == 3  # query:, bge's instruction, the text alone
    assert document.num_passes == 3  # passage:, query: (symmetric), the text alone
    one = {s: encoder.embed(TEXTS, [s], side="query").vectors[s] for s in specs}
    for spec in specs:
        np.testing.assert_array_equal(query.vectors[spec], one[spec])


def test_fitted_stages_serve_both_sides(tiny_backbone):
    encoder = Encoder(tiny_backbone("bert"), normalize=False)
    spec = "query/passage:mean | whiten(4)"
    fitted = encoder.fit_stages(TEXTS, [spec])[spec]  # on the documents
    reference = Encoder(tiny_backbone("bert"), normalize=False)
    documents = reference.encode(TEXTS, "passage:mean")
    queries = reference.encode(TEXTS, "query:mean")
    assert fitted.strategy == parse_strategy(spec)  # one fit, keyed by the two-sided spec
    np.testing.assert_allclose(encoder.encode_document(TEXTS, spec), fitted.transform(documents))
    np.testing.assert_allclose(encoder.encode_query(TEXTS, spec), fitted.transform(queries))
    assert encoder.encode_query(TEXTS, spec).shape == (len(TEXTS), 4)


def test_long_texts_are_chunked_on_their_side(tiny_backbone):
    kwargs = {"normalize": False, "max_length": 16, "long": "chunk"}
    encoder = Encoder(tiny_backbone("bert"), **kwargs)
    got = encoder.embed(TEXTS, ["query/passage:mean", "bge/:cls"], side="query")
    assert got.num_truncated > 0
    np.testing.assert_array_equal(
        got.vectors["query/passage:mean"], encoder.encode(TEXTS, "query:mean")
    )
    np.testing.assert_array_equal(got.vectors["bge/:cls"], encoder.encode(TEXTS, "bge:cls"))


def test_onnx_reads_the_side_template(tiny_backbone, tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    monkeypatch.setenv("HIDDENPOOL_CACHE", str(tmp_path / "cache"))
    backbone = tiny_backbone("bert")
    onnx = Encoder(backbone, normalize=False, backend="onnx", max_length=24)
    torch_encoder = Encoder(backbone, normalize=False, max_length=24)
    for side, one in (("query", "query:mean"), ("document", "passage:mean")):
        np.testing.assert_allclose(
            onnx.encode(TEXTS, "query/passage:mean", side=side),
            torch_encoder.encode(TEXTS, one),
            atol=1e-5,
        )


def test_a_side_template_needing_a_mask_token_fails_on_either_side(tiny_backbone):
    encoder = Encoder(tiny_backbone("gpt2"))  # no mask token
    for call in (encoder.encode_query, encoder.encode_document):
        with pytest.raises(ValueError, match="template 'promptbert' holds \\[MASK\\]") as error:
            call(TEXTS, "promptbert/passage:mean")
        assert "\n" not in str(error.value)


def test_an_unknown_side_is_refused(tiny_backbone):
    with pytest.raises(ValueError, match="side must be one of query, document, got 'passage'"):
        Encoder(tiny_backbone("bert")).encode(TEXTS, "mean", side="passage")  # type: ignore[arg-type]
