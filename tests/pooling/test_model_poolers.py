"""Poolers that read the model's own outputs, against references computed from Hugging Face."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoModel

from hiddenpool import Encoder
from tiny_models import SENTENCES


def _reference(folder, backbone):
    model = AutoModel.from_pretrained(folder, attn_implementation="eager").eval()
    batch = backbone.tokenize(SENTENCES)
    plain = {k: v for k, v in batch.items() if k != "special_tokens_mask"}
    with torch.no_grad():
        out = model(**plain, output_attentions=True, output_hidden_states=True)
    return out, batch["attention_mask"].bool()


def test_attn_weights_tokens_by_the_cls_rows_head_averaged_attention(tiny_dir, tiny_backbone):
    backbone = tiny_backbone("bert")
    out, mask = _reference(tiny_dir("bert"), backbone)
    weights = out.attentions[-2].mean(dim=1)[:, 0, :] * mask  # block of hidden_states[-2]
    weights = weights / weights.sum(dim=1, keepdim=True)
    expected = (out.hidden_states[-2] * weights.unsqueeze(-1)).sum(dim=1)
    got = Encoder(backbone, normalize=False).encode_many(SENTENCES, ["attn@-2"])["attn@-2"]
    np.testing.assert_allclose(got, expected.numpy(), atol=1e-5)


@pytest.mark.filterwarnings("ignore:.*pooler_output comes from")
def test_pooler_and_meanmax_equal_their_definitions(tiny_dir, tiny_backbone):
    backbone = tiny_backbone("bert")
    out, mask = _reference(tiny_dir("bert"), backbone)
    got = Encoder(backbone, normalize=False).encode_many(SENTENCES, ["pooler", "meanmax", "cls"])
    np.testing.assert_allclose(got["pooler"], out.pooler_output.numpy(), atol=1e-5)
    last = out.last_hidden_state
    mean = torch.stack([last[i][mask[i]].mean(0) for i in range(len(SENTENCES))])
    top = torch.stack([last[i][mask[i]].amax(0) for i in range(len(SENTENCES))])
    np.testing.assert_allclose(got["meanmax"], torch.cat([mean, top], 1).numpy(), atol=1e-5)
    np.testing.assert_allclose(got["cls"], last[:, 0].numpy(), atol=1e-5)  # right padding


def test_first_last_and_concat_layers_follow_the_hidden_states_convention(tiny_dir, tiny_backbone):
    backbone = tiny_backbone("roberta")
    out, mask = _reference(tiny_dir("roberta"), backbone)
    got = Encoder(backbone, normalize=False).encode_many(
        SENTENCES, ["mean@1,-1", "cls@concat(-2:)", "mean@0"]
    )

    def mean(h):
        return torch.stack([h[i][mask[i]].mean(0) for i in range(len(SENTENCES))])

    hs = out.hidden_states
    first_last = (mean(hs[1]) + mean(hs[-1])) / 2
    np.testing.assert_allclose(got["mean@1,-1"], first_last.numpy(), atol=1e-5)
    np.testing.assert_allclose(got["mean@0"], mean(hs[0]).numpy(), atol=1e-5)
    concat = torch.cat([hs[-2][:, 0], hs[-1][:, 0]], dim=1)
    np.testing.assert_allclose(got["cls@concat(-2:)"], concat.numpy(), atol=1e-5)
