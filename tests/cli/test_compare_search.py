"""``compare --task retrieval|reranking|clustering`` on small files with a tiny model: the
figures against pytrec_eval / sklearn computed here on the same vectors, and every bad input one
line, exit 2, nothing under --out."""

from __future__ import annotations

import json

import numpy as np
import pytest
import pytrec_eval

from hiddenpool.cli.main import main
from hiddenpool.encode import Encoder
from tiny_models import WORDS

pytestmark = pytest.mark.filterwarnings("ignore:.*pooler_output comes from")


def _texts(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=rng.integers(3, 9))) for _ in range(n)]


def _beir(root, docs, queries, qrels_lines):
    root.mkdir(parents=True, exist_ok=True)
    (root / "qrels").mkdir(exist_ok=True)
    (root / "corpus.jsonl").write_text(
        "".join(json.dumps({"_id": i, "title": t, "text": x}) + "\n" for i, t, x in docs)
    )
    (root / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": i, "text": x}) + "\n" for i, x in queries)
    )
    (root / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t{r}\n" for q, d, r in qrels_lines)
    )
    return root


@pytest.fixture
def beir(tmp_path):
    texts = _texts(30, 1)
    docs = [(f"d{i}", "" if i % 3 else f"title {i}", t) for i, t in enumerate(texts)]
    queries = [(f"q{i}", " ".join(texts[i].split()[:3])) for i in range(8)]
    qrels = [(f"q{i}", f"d{i}", 2) for i in range(8)] + [
        (f"q{i}", f"d{i + 10}", 1) for i in range(4)
    ]
    qrels += [("q5", "d20", 0)]
    return _beir(tmp_path / "beir", docs, queries, qrels)


def _run(tmp_path, tiny_dir, *args: str) -> tuple[int, object]:
    out = tmp_path / "report"
    code = main([*args, "--model", str(tiny_dir("bert")), "--out", str(out), "--quiet"])
    return code, out


def test_retrieval_on_a_beir_folder_matches_pytrec_eval_by_hand(tmp_path, tiny_dir, beir, capsys):
    code, out = _run(
        tmp_path, tiny_dir, "compare", str(beir), "--task", "retrieval",
        "--strategies", "mean", "cls", "mean | whiten(8)",
    )  # fmt: skip
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    assert results["task"] == "retrieval" and results["primary_metric"] == "ndcg@10"
    assert results["n_rows"] == 8 and results["unit"] == "query"
    # the reference: embed here, full cosine matrix, rank every document, pytrec_eval
    encoder = Encoder(tiny_dir("bert"), normalize=False)
    corpus = [json.loads(line) for line in (beir / "corpus.jsonl").read_text().splitlines()]
    docs = [f"{d['title']} {d['text']}".strip() if d["title"] else d["text"] for d in corpus]
    queries = [
        json.loads(line)["text"]
        for line in (beir / "queries.jsonl").read_text().split("\n")
        if line
    ]
    q = encoder.encode_many(queries, ["mean"])["mean"].astype(np.float64)
    d = encoder.encode_many(docs, ["mean"])["mean"].astype(np.float64)
    sims = (q / np.linalg.norm(q, axis=1, keepdims=True)) @ (
        d / np.linalg.norm(d, axis=1, keepdims=True)
    ).T
    run = {f"q{i}": {f"d{j}": float(sims[i, j]) for j in range(len(docs))} for i in range(8)}
    qrels: dict[str, dict[str, int]] = {}
    for line in (beir / "qrels" / "test.tsv").read_text().splitlines()[1:]:
        a, b, r = line.split("\t")
        qrels.setdefault(a, {})[b] = int(r)
    scores = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.10"}).evaluate(run)
    mean = next(s for s in results["strategies"] if s["name"] == "mean")
    expected = np.mean([scores[k]["ndcg_cut_10"] for k in sorted(scores)])
    assert mean["metrics"]["ndcg@10"]["mean"] == pytest.approx(expected, abs=1e-5)
    expected = np.mean([scores[k]["recall_10"] for k in sorted(scores)])
    assert mean["metrics"]["recall@10"]["mean"] == pytest.approx(expected, abs=1e-5)
    # MRR@10 by hand: the first relevant document among the top 10
    rr = []
    for i in range(8):
        order = np.argsort(-sims[i], kind="stable")[:10]
        ranks = [r for r, j in enumerate(order, 1) if qrels[f"q{i}"].get(f"d{j}", 0) >= 1]
        rr.append(1 / ranks[0] if ranks else 0.0)
    assert mean["metrics"]["mrr@10"]["mean"] == pytest.approx(np.mean(rr), abs=1e-5)
    # BM25 is a baseline row, winner vs default paired over queries, stages on the corpus
    assert [b["name"] for b in results["baselines"]] == ["bm25"]
    assert len(results["winner_vs_default"]) and results["winner_vs_default"]["b"] == "mean"
    report = (out / "report.md").read_text()
    assert "bm25 (baseline, no vectors)" in report and "(baseline)" in capsys.readouterr().out
    assert "fitted on the 30 corpus documents only" in report
    assert "| `mean \\| whiten(8)` |" in report  # the spec's pipe does not split its cell


def test_retrieval_from_a_table_with_several_rows_per_query(tmp_path, tiny_dir):
    texts = _texts(12, 2)
    rows = [("what is " + t.split()[0], t) for t in texts] + [("what is x", texts[0])]
    rows += [("what is x", texts[1])]
    table = tmp_path / "pairs.csv"
    table.write_text("question,answer\n" + "".join(f"{a},{b}\n" for a, b in rows))
    code, out = _run(
        tmp_path, tiny_dir, "compare", str(table), "--task", "retrieval", "--query-column",
        "question", "--document-column", "answer", "--strategies", "mean", "--no-bm25",
    )  # fmt: skip
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    distinct_queries = len({a for a, _ in rows})
    assert results["n_rows"] == distinct_queries and results["baselines"] == []


def test_reranking_mteb_jsonl_map_equals_sklearn(tmp_path, tiny_dir):
    from sklearn.metrics import average_precision_score

    texts = _texts(40, 3)
    records = [
        {"query": texts[i], "positive": [texts[i + 10]], "negative": texts[i + 20 : i + 24]}
        for i in range(6)
    ]
    path = tmp_path / "rerank.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    code, out = _run(
        tmp_path, tiny_dir, "compare", str(path), "--task", "reranking", "--strategies", "mean"
    )
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    encoder = Encoder(tiny_dir("bert"), normalize=False)
    aps = []
    for r in records:
        cands = r["positive"] + r["negative"]
        v = encoder.encode_many([r["query"], *cands], ["mean"])["mean"].astype(np.float64)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        aps.append(average_precision_score([1] + [0] * len(r["negative"]), v[1:] @ v[0]))
    got = results["strategies"][0]["metrics"]["map"]["mean"]
    assert results["primary_metric"] == "map" and got == pytest.approx(np.mean(aps), abs=1e-5)


def test_clustering_v_measure_equals_sklearn_kmeans_on_the_same_samples(tmp_path, tiny_dir):
    import random

    from sklearn.cluster import MiniBatchKMeans
    from sklearn.metrics import v_measure_score

    texts = _texts(60, 4)
    labels = [("a", "b", "c")[i % 3] for i in range(60)]
    path = tmp_path / "topics.csv"
    path.write_text(
        "text,topic\n" + "".join(f"{t},{y}\n" for t, y in zip(texts, labels, strict=True))
    )
    code, out = _run(
        tmp_path, tiny_dir, "compare", str(path), "--task", "clustering", "--label-column",
        "topic", "--strategies", "mean", "--runs", "3", "--seed", "7",
    )  # fmt: skip
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    x = Encoder(tiny_dir("bert"), normalize=False).encode_many(texts, ["mean"])["mean"]
    rng, gold = random.Random(7), np.asarray(labels)
    expected = []
    for _ in range(3):
        rows = rng.choices(range(60), k=60)
        km = MiniBatchKMeans(n_clusters=3, batch_size=512, n_init=1, random_state=7)
        expected.append(v_measure_score(gold[rows], km.fit_predict(x[rows])))
    got = results["strategies"][0]["metrics"]["v_measure"]
    np.testing.assert_allclose(got["folds"], expected, atol=1e-6)
    assert results["unit"] == "run"


def _bad_beir(tmp_path, case):
    docs = [("d1", "", "alpha beta"), ("d2", "", "gamma delta"), ("d3", "", "epsilon")]
    queries = [("q1", "alpha"), ("q2", "gamma")]
    qrels = [("q1", "d1", 1), ("q2", "d2", 1)]
    if case == "unknown query":
        qrels.append(("q9", "d1", 1))
    elif case == "unknown document":
        qrels.append(("q1", "d9", 1))
    elif case == "no relevant":
        qrels = [("q1", "d1", 1), ("q2", "d2", 0)]
    elif case == "duplicate":
        docs.append(("d2", "", "again"))
    elif case == "empty":
        docs = []
    return _beir(tmp_path / "bad", docs, queries, qrels)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("unknown query", r"test\.tsv: line 4: query id 'q9' is not in queries\.jsonl"),
        ("unknown document", r"test\.tsv: line 4: document id 'd9' is not in corpus\.jsonl"),
        ("no relevant", r"test\.tsv: line 3: query 'q2' has no relevant document"),
        ("duplicate", r"corpus\.jsonl: line 4: duplicate _id 'd2'"),
        ("empty", r"corpus\.jsonl: empty"),
        ("k", r"--top-k 5: larger than the 3 documents"),
    ],
)
def test_bad_search_input_is_one_line_exit_2_nothing_written(
    tmp_path, tiny_dir, capsys, case, message
):
    import re

    tiny_dir("bert")  # built (with its progress bar) before the error output is read
    capsys.readouterr()
    folder = _bad_beir(tmp_path, case)
    extra = ["--top-k", "5"] if case == "k" else []
    code, out = _run(
        tmp_path, tiny_dir, "compare", str(folder), "--task", "retrieval", "--strategies",
        "mean", *extra,
    )  # fmt: skip
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1, lines
    assert re.search(message, lines[0]), lines[0]
    assert not out.exists()


def test_clustering_with_one_class_is_one_line(tmp_path, tiny_dir, capsys):
    tiny_dir("bert")
    capsys.readouterr()
    path = tmp_path / "one.csv"
    path.write_text("text,topic\n" + "".join(f"{t},same\n" for t in _texts(6, 5)))
    code, out = _run(
        tmp_path, tiny_dir, "compare", str(path), "--task", "clustering", "--label-column",
        "topic", "--strategies", "mean",
    )  # fmt: skip
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "one.csv" in lines[0] and "2 classes" in lines[0]
    assert not out.exists()


def test_a_registered_dataset_names_its_task_a_path_does_not(beir):
    from hiddenpool.compare import registered_task

    assert registered_task("manpages") == "retrieval"
    assert registered_task("sts-b") == "similarity" and registered_task(None) == "regression"
    assert registered_task(str(beir)) is None
    with pytest.raises(ValueError, match="imdb"):
        registered_task("imdb")


def test_all_sweeps_the_side_pairs_for_retrieval(tmp_path, tiny_dir, beir, capsys):
    from hiddenpool.pooling import parse_strategy
    from hiddenpool.pooling.templates import side_pairs

    code, out = _run(tmp_path, tiny_dir, "compare", str(beir), "--task", "retrieval")
    assert code == 0
    names = {s["name"] for s in json.loads((out / "results.json").read_text())["strategies"]}
    pairs = {str(parse_strategy(s)) for s in side_pairs()}
    assert pairs and pairs <= names
    assert any(n.endswith("| int8") for n in names)  # the best one post-processed, as for probes
    assert "passes: query and document texts" in capsys.readouterr().err
