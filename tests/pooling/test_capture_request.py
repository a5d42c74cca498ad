"""CaptureRequest: one description of what a pass must keep, derived from registry entries."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hiddenpool.pooling import POOLERS, parse_strategy
from hiddenpool.pooling.registry import PoolerEntry
from hiddenpool.states import CaptureRequest


@pytest.mark.parametrize(
    ("spec", "layers", "attentions", "pooler_output"),
    [
        ("mean", {6}, set(), False),
        ("cls@-4:", {3, 4, 5, 6}, set(), False),
        ("mean@1,-1", {1, 6}, set(), False),
        ("attn@-2", {5}, {5}, False),
        ("attn+mean@concat(2,4)", {2, 4}, {2, 4}, False),
        ("pooler", {6}, set(), True),
    ],
)
def test_request_from_a_strategy(spec, layers, attentions, pooler_output):
    request = parse_strategy(spec).capture_request(6)
    assert request == CaptureRequest(frozenset(layers), frozenset(attentions), pooler_output)


def test_requests_merge_as_a_union():
    specs = ["mean@-2", "attn@3", "pooler"]
    merged = CaptureRequest.union(parse_strategy(s).capture_request(6) for s in specs)
    assert merged == CaptureRequest(frozenset({5, 3, 6}), frozenset({3}), True)
    assert CaptureRequest.union([]) == CaptureRequest()


def test_resolution_rejects_a_layer_the_model_lacks():
    assert CaptureRequest(frozenset({-1, 0})).resolved(4).layers == frozenset({4, 0})
    with pytest.raises(ValueError, match="out of range"):
        CaptureRequest(frozenset({7})).resolved(4)


def test_what_a_pooler_reads_comes_from_its_entry_not_its_name():
    for name, entry in POOLERS.items():
        strategy = parse_strategy(f"promptbert:{name}" if name == "mask" else name)
        assert strategy.needs_attentions == (entry.reads == "attentions")
        assert strategy.needs_pooler == (entry.reads == "pooler_output")


def test_every_parameter_free_pooler_but_attn_and_mask_merges_across_windows():
    for name, entry in POOLERS.items():
        mergeable = bool(entry.merge)
        # mask reads one token of a template, which holds one window per text
        expected = not entry.learned and entry.reads != "attentions" and name != "mask"
        assert mergeable == expected, name


def test_an_entry_must_give_one_merge_rule_per_width_factor():
    with pytest.raises(ValueError, match="one merge rule per factor"):
        PoolerEntry("twice", "x", lambda width: None, factor=2, merge=("mean",))  # type: ignore[arg-type,return-value]
    with pytest.raises(ValueError, match="unknown merge rules"):
        PoolerEntry("odd", "x", lambda width: None, merge=("median",))  # type: ignore[arg-type,return-value]


def test_the_spec_language_loads_without_torch():
    code = (
        "import sys; import hiddenpool.pooling.spec as s, hiddenpool.pooling.registry as r;"
        "s.parse_strategy('cls@concat(-4:)').capture_request(6);"
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
