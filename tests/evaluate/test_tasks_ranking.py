"""The task protocol's scoring functions on plain arrays: exact chunked search against a full
matrix, ranking metrics against hand-computed values, the registry."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hiddenpool.evaluate.tasks import (
    create_task,
    list_tasks,
    reranking_metrics,
    retrieval_metrics,
    retrieval_run,
    top_k,
)


@pytest.mark.parametrize("similarity", ["cosine", "dot"])
@pytest.mark.parametrize("chunk", [1, 3, 7, 1000])
def test_chunked_top_k_equals_the_full_matrix(similarity, chunk):
    rng = np.random.default_rng(0)
    q, d = rng.normal(size=(11, 5)), rng.normal(size=(23, 5)) * rng.uniform(0.5, 3, (23, 1))
    if similarity == "cosine":
        full = (q / np.linalg.norm(q, axis=1)[:, None]) @ (d / np.linalg.norm(d, axis=1)[:, None]).T
    else:
        full = q @ d.T
    indices, scores = top_k(q, d, k=6, similarity=similarity, chunk=chunk)
    expected = np.argsort(-full, axis=1)[:, :6]
    np.testing.assert_array_equal(indices, expected)
    np.testing.assert_allclose(scores, np.take_along_axis(full, expected, axis=1), rtol=1e-5)


def test_metrics_equal_hand_computed_values():
    # q1: relevant d1 (grade 2) ranked 2nd, d3 (grade 1) 3rd; q2: nothing relevant in the top 10.
    # trec_eval's nDCG gains are the grades themselves (not 2**grade - 1), log2(rank + 1) discount
    run = retrieval_run(
        np.array([[1.0, 0.0], [0.0, 1.0]]),
        np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9], [0.5, 0.5]] + [[0.0, -1.0]] * 10),
        ["q1", "q2"],
        ["d0", "d1", "d2", "d3", *[f"z{i}" for i in range(10)]],
        k=14,
    )
    qrels = {
        "q1": {"d1": 2, "d3": 1},
        "q2": {"z0": 1},
    }  # z0 is last of 10 tied zs (trec_eval: id descending)
    got = retrieval_metrics(run, qrels)
    assert got.query_ids == ("q1", "q2")
    dcg = 2 / math.log2(3) + 1 / math.log2(4)
    ideal = 2 / math.log2(2) + 1 / math.log2(3)
    assert got.per_query["ndcg@10"][0] == pytest.approx(dcg / ideal)
    assert got.per_query["mrr@10"].tolist() == pytest.approx([0.5, 0.0])
    assert got.per_query["recall@10"].tolist() == pytest.approx([1.0, 0.0])
    assert got.per_query["recall@100"][1] == pytest.approx(1.0)  # z0 is retrieved, 14th
    assert got.per_query["map@100"][0] == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert got.mean()["mrr@10"] == pytest.approx(0.25)


def test_reranking_map_and_mrr_by_hand():
    got = reranking_metrics([[0.9, 0.1, 0.5, 0.3], [0.2, 0.8]], [[0, 1, 1, 0], [1, 0]])
    assert got.per_query["map"].tolist() == pytest.approx([(1 / 2 + 2 / 4) / 2, 1 / 2])
    assert got.per_query["mrr@10"].tolist() == pytest.approx([1 / 2, 1 / 2])


def test_every_registered_task_says_what_it_is():
    assert {"regression", "classification", "similarity", "retrieval", "reranking"} <= set(
        list_tasks()
    )
    for name in list_tasks():
        task = create_task(name)
        assert task.name == name and task.unit in ("fold", "query", "run") and task.description
    with pytest.raises(ValueError, match=r"unknown task 'ranking'.*retrieval"):
        create_task("ranking")
