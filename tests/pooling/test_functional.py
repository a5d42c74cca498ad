"""Masked reductions against naive per-row loops, and their behaviour at the edges."""

from __future__ import annotations

import math

import pytest
import torch

from hiddenpool.pooling import functional as F


def _batch(dtype=torch.float32, b=4, t=7, h=5):
    hidden = (torch.randn(b, t, h) * 3).to(dtype)
    lengths = [7, 3, 1, 5][:b]
    mask = torch.zeros(b, t, dtype=torch.bool)
    for row, n in enumerate(lengths):
        mask[row, :n] = True
    return hidden, mask


def _rows(hidden, mask):
    return [hidden[i][mask[i]].double() for i in range(hidden.shape[0])]


NAIVE = {
    "masked_mean": lambda x: x.mean(0),
    "masked_sum": lambda x: x.sum(0),
    "masked_max": lambda x: x.max(0).values,
    "masked_min": lambda x: x.min(0).values,
    "masked_mean_sqrt_len": lambda x: x.sum(0) / math.sqrt(len(x)),
    "masked_weighted_mean": lambda x: (
        (x * torch.arange(1, len(x) + 1, dtype=x.dtype)[:, None]).sum(0)
        / (len(x) * (len(x) + 1) / 2)
    ),
    "masked_gem": lambda x: x.clamp(min=1e-6).pow(3).mean(0).pow(1 / 3),
}


@pytest.mark.parametrize("name", list(NAIVE))
def test_matches_naive_loop(name):
    hidden, mask = _batch()
    out = getattr(F, name)(hidden, mask)
    expected = torch.stack([NAIVE[name](row) for row in _rows(hidden, mask)]).float()
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", list(NAIVE))
def test_padding_content_and_side_never_matter(name):
    hidden, mask = _batch()
    fn = getattr(F, name)
    garbage = hidden.masked_fill(~mask.unsqueeze(-1), 1e4)  # huge values in the padding
    torch.testing.assert_close(fn(garbage, mask), fn(hidden, mask))
    # Left padding: move each row's real tokens to the end.
    left_h, left_m = torch.zeros_like(hidden), torch.zeros_like(mask)
    for i in range(hidden.shape[0]):
        n = int(mask[i].sum())
        left_h[i, hidden.shape[1] - n :] = hidden[i, :n]
        left_m[i, hidden.shape[1] - n :] = True
    torch.testing.assert_close(fn(left_h, left_m), fn(hidden, mask), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", list(NAIVE))
def test_all_ones_mask_equals_the_plain_reduction(name):
    hidden = torch.randn(3, 6, 4)
    mask = torch.ones(3, 6, dtype=torch.bool)
    plain = {
        "masked_mean": hidden.mean(1),
        "masked_sum": hidden.sum(1),
        "masked_max": hidden.amax(1),
        "masked_min": hidden.amin(1),
        "masked_mean_sqrt_len": hidden.sum(1) / math.sqrt(6),
    }
    if name in plain:
        torch.testing.assert_close(getattr(F, name)(hidden, mask), plain[name])


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("name", list(NAIVE))
def test_half_precision_is_finite_and_close_to_float32(name, dtype):
    hidden, mask = _batch()
    hidden = hidden * 1000  # large activations: -1e9 fills or fp16 sums would overflow here
    half = hidden.to(dtype)
    out = getattr(F, name)(half, mask)
    assert out.dtype == torch.float32
    assert torch.isfinite(out).all()
    reference = getattr(F, name)(half.float(), mask)
    torch.testing.assert_close(out, reference)


@pytest.mark.parametrize("name", list(NAIVE))
def test_all_masked_row_gives_zeros_not_nan(name):
    hidden, mask = _batch(torch.float16)
    mask[1] = False
    out = getattr(F, name)(hidden, mask)
    assert torch.isfinite(out).all()
    assert (out[1] == 0).all()


@pytest.mark.parametrize("name", list(NAIVE))
def test_inputs_are_not_modified(name):
    hidden, mask = _batch()
    hidden_before, mask_before = hidden.clone(), mask.clone()
    getattr(F, name)(hidden, mask)
    assert torch.equal(hidden, hidden_before)
    assert torch.equal(mask, mask_before)


def test_first_and_last_index_under_both_paddings():
    right = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0], [1, 1, 1, 1]], dtype=torch.bool)
    left = right.flip(dims=[1])
    assert F.first_index(right).tolist() == [0, 0, 0]
    assert F.last_index(right).tolist() == [2, 0, 3]
    assert F.first_index(left).tolist() == [1, 3, 0]
    assert F.last_index(left).tolist() == [3, 3, 3]


def test_min_pooling_ignores_padding_unlike_the_seed():
    # Seed 002 filled padding with 1e-4, so an all-positive row's min became 1e-4.
    hidden = torch.full((1, 4, 2), 5.0)
    mask = torch.tensor([[True, True, False, False]])
    assert F.masked_min(hidden, mask).tolist() == [[5.0, 5.0]]


@pytest.mark.parametrize("p", [-40.0, 0.5, 3.0, 40.0, 1000.0])
def test_gem_stays_finite_and_exact_for_large_exponents(p):
    """gem(p=1000) overflowed float32 (x^p = inf) and pooled to nan. The reference works in
    float64 logs, (log-mean-exp of p*log x) / p, so it overflows at no p."""
    hidden, mask = _batch()
    hidden = hidden.abs() + 0.1  # GeM's domain; padding values are larger than some real ones
    out = F.masked_gem(hidden, mask, p)
    assert torch.isfinite(out).all()
    expected = []
    for row in _rows(hidden, mask):
        logs = p * torch.log(row.clamp(min=1e-6))
        expected.append(((torch.logsumexp(logs, 0) - math.log(len(row))) / p).exp())
    torch.testing.assert_close(out, torch.stack(expected).float(), atol=1e-5, rtol=1e-5)
