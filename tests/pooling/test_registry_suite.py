"""Everything in the registry: shape, width, gradients, determinism, half precision."""

from __future__ import annotations

import pytest
import torch

from hiddenpool.backbone import HiddenStates
from hiddenpool.pooling import (
    COMBINERS,
    POOLERS,
    create_pooler,
    list_combiners,
    list_poolers,
    parse_strategy,
)

H, L, B, T = 8, 4, 3, 6


def _states(dtype=torch.float32, requires_grad=False, summary="first") -> HiddenStates:
    layers = {i: torch.randn(B, T, H).to(dtype).requires_grad_(requires_grad) for i in range(L + 1)}
    mask = torch.tensor([[1] * 6, [1] * 3 + [0] * 3, [0] * 2 + [1] * 4], dtype=torch.bool)
    special = torch.zeros(B, T, dtype=torch.bool)
    special[0, 0] = special[0, 5] = special[1, 0] = special[1, 2] = special[2, 2] = True
    attentions = {i: torch.softmax(torch.randn(B, 2, T, T), -1).to(dtype) for i in range(1, L + 1)}
    mask_token = torch.zeros(B, T, dtype=torch.bool)  # a template's mask token, for ``mask``
    mask_token[0, 4] = mask_token[1, 1] = mask_token[2, 3] = True
    return HiddenStates(
        layers=layers,
        attention_mask=mask,
        num_layers=L,
        summary=summary,
        special_tokens_mask=special,
        pooler_output=torch.randn(B, H).to(dtype).requires_grad_(requires_grad),
        attentions=attentions,
        mask_token_mask=mask_token,
    )


def _all_specs() -> list[str]:
    specs = [f"promptbert:{p}" if p == "mask" else p for p in list_poolers()]
    for combiner in list_combiners():
        specs += [f"mean@{combiner}(-3:)", f"cls@{combiner}(1,-1)"]
    specs += ["meanmax@concat(0,-1)", "attn@-3:", "gem(p=2)@-2", "mean+max@1:3"]
    return specs


ALL_SPECS = _all_specs()


def test_the_suite_covers_every_registered_name():
    covered = {str(parse_strategy(s).poolers[0].name) for s in ALL_SPECS}
    assert covered == set(POOLERS)
    assert {parse_strategy(s).layers.combiner for s in ALL_SPECS} == set(COMBINERS)


@pytest.mark.parametrize("spec", ALL_SPECS)
def test_shape_width_and_determinism(spec):
    pooler = create_pooler(spec, H, L).eval()
    states = _states()
    out = pooler(states)
    assert out.shape == (B, pooler.width)
    assert pooler.width == parse_strategy(spec).width(H, L)
    assert out.dtype == torch.float32
    assert torch.isfinite(out).all()
    torch.testing.assert_close(pooler(states), out, rtol=0, atol=0)


@pytest.mark.parametrize("spec", ALL_SPECS)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_inputs_stay_finite(spec, dtype):
    pooler = create_pooler(spec, H, L).eval()
    states = _states(dtype)
    with torch.no_grad():
        out = pooler(states)
        reference = pooler(
            HiddenStates(
                layers={k: v.float() for k, v in states.layers.items()},
                attention_mask=states.attention_mask,
                num_layers=L,
                special_tokens_mask=states.special_tokens_mask,
                pooler_output=None
                if states.pooler_output is None
                else states.pooler_output.float(),
                attentions={k: v.float() for k, v in states.attentions.items()},
                mask_token_mask=states.mask_token_mask,
            )
        )
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, reference, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("spec", ALL_SPECS)
def test_gradients_reach_inputs_and_every_parameter(spec):
    pooler = create_pooler(spec, H, L).train()
    states = _states(requires_grad=True)
    pooler(states).square().sum().backward()
    for name, param in pooler.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), name
    if parse_strategy(spec).learned:
        assert any(p.grad.abs().sum() > 0 for p in pooler.parameters())
    if not parse_strategy(spec).needs_pooler:
        used = [states.layers[i].grad for i in pooler.layer_indices]
        assert all(g is not None and torch.isfinite(g).all() for g in used)


@pytest.mark.parametrize("spec", [s for s in ALL_SPECS if not parse_strategy(s).needs_pooler])
def test_an_all_masked_row_pools_to_finite_values(spec):
    pooler = create_pooler(spec, H, L).eval()
    states = _states()
    mask = states.attention_mask.clone()
    mask[1] = False
    empty = HiddenStates(
        layers=states.layers,
        attention_mask=mask,
        num_layers=L,
        special_tokens_mask=states.special_tokens_mask,
        attentions=states.attentions,
        mask_token_mask=states.mask_token_mask,
    )
    with torch.no_grad():
        out = pooler(empty)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("spec", ALL_SPECS)
def test_inputs_are_never_modified(spec):
    pooler = create_pooler(spec, H, L)
    states = _states()
    before = {k: v.clone() for k, v in states.layers.items()}
    mask_before = states.attention_mask.clone()
    pooler(states)
    for k, v in states.layers.items():
        assert torch.equal(v, before[k])
    assert torch.equal(states.attention_mask, mask_before)


def test_one_hot_weighted_layers_equal_that_layer():
    pooler = create_pooler("mean@weighted(1:)", H, L)
    with torch.no_grad():
        pooler.combiner.logits.copy_(torch.tensor([-1e4, 0.0, -1e4, -1e4]))
    states = _states()
    expected = create_pooler("mean@2", H, L)(states)
    torch.testing.assert_close(pooler(states), expected)


def test_learned_poolers_are_flagged():
    assert set(list_poolers(learned=True)) == {"attention", "conv1d", "gem_learned"}
    assert set(list_combiners(learned=True)) == {"weighted", "layer_attention", "lstm", "gru"}
