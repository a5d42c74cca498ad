"""What scoring costs beside embedding, for retrieval over 10,000 documents and 1,000 queries.

Real text: the registered ``manpages`` collection (``hiddenpool datasets``), cut into passages
(its DESCRIPTION paragraphs of at least 8 words, 14,188 of them), so one page gives many
documents. 10,000 passages are the corpus: each page's first one, the rest drawn (seeded);
1,000 of the pages' NAME summaries are the queries, each passage of its own page relevant (1).

Embedding: the default MiniLM-L6 and compare's whole symmetric sweep (``default_strategies``:
30 strategies from one forward pass, layers shared), queries and passages in one call. Scoring,
per strategy, what ``compare --task retrieval`` does: exact chunked search (``retrieval_run``,
top 100, cosine) and the pytrec_eval metrics (``retrieval_metrics``). Both at ``--threads``
(torch and BLAS/OpenMP alike). Memory: tracemalloc's peak of the search alone for two corpus
sizes and two chunk sizes, beside one float32 copy of the vectors (the search normalises a
copy) and what one (queries x documents) score matrix would take.

    python bench/search_cost.py --threads 1        # ~5 min on a shared 2-core CPU
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from provenance import provenance, write_results


def passages(n_docs: int, n_queries: int, seed: int) -> tuple[list, list, list, list, dict]:
    """(doc ids, doc texts, query ids, query texts, qrels) drawn from the manpages collection."""
    from hiddenpool.data import load_retrieval

    data = load_retrieval("manpages")
    pool = [
        (f"{doc_id}#{i}", text)
        for doc_id, body in zip(data.doc_ids, data.doc_texts, strict=True)
        for i, text in enumerate(body.split("\n\n"))
        if len(text.split()) >= 8
    ]
    rng = np.random.default_rng(seed)
    first = {}  # every page keeps its first passage, so each page's query can be answered
    for i, (passage_id, _) in enumerate(pool):
        first.setdefault(passage_id.split("#")[0], i)
    rest = np.setdiff1d(np.arange(len(pool)), list(first.values()))
    fill = rng.choice(rest, size=n_docs - len(first), replace=False)
    chosen = sorted([*first.values(), *fill.tolist()])
    doc_ids = [pool[i][0] for i in chosen]
    doc_texts = [pool[i][1] for i in chosen]
    by_page: dict[str, list[str]] = {}
    for doc_id in doc_ids:
        by_page.setdefault(doc_id.split("#")[0], []).append(doc_id)
    usable = []
    for qid, text in zip(data.query_ids, data.query_texts, strict=True):
        own = [p for p, grade in data.qrels[qid].items() if grade == 2 and p in by_page]
        if own:
            usable.append((qid, text, {d: 1 for p in own for d in by_page[p]}))
    picked = sorted(rng.choice(len(usable), size=n_queries, replace=False))
    queries = [usable[i] for i in picked]
    qrels = {qid: judged for qid, _, judged in queries}
    return doc_ids, doc_texts, [q[0] for q in queries], [q[1] for q in queries], qrels


def search_peak(queries: np.ndarray, docs: np.ndarray, chunk: int, k: int) -> int:
    """Bytes tracemalloc saw allocated at peak during one exact search (inputs excluded)."""
    from hiddenpool.evaluate.tasks import top_k

    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    top_k(queries, docs, k, similarity="cosine", chunk=chunk)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return int(peak)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--chunk", type=int, default=4096, help="rows per block of the search")
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="search_cost")
    args = parser.parse_args()
    started = provenance()

    import torch
    from threadpoolctl import threadpool_limits
    from tqdm.auto import tqdm

    from hiddenpool.compare import default_strategies
    from hiddenpool.encode import Encoder
    from hiddenpool.evaluate.tasks import retrieval_metrics, retrieval_run

    torch.set_num_threads(args.threads)
    doc_ids, doc_texts, query_ids, query_texts, qrels = passages(args.docs, args.queries, args.seed)
    encoder = Encoder()
    strategies = default_strategies(encoder.backbone)
    with threadpool_limits(args.threads):
        begin, cpu = time.perf_counter(), time.process_time()
        vectors = encoder.encode_many(
            query_texts + doc_texts, strategies, batch_size=args.batch_size
        )
        embed_s, embed_cpu_s = time.perf_counter() - begin, time.process_time() - cpu
        rows = []
        scoring_cpu = time.process_time()
        for name in tqdm(strategies, desc="scoring", disable=not sys.stderr.isatty()):
            q, d = vectors[name][: len(query_ids)], vectors[name][len(query_ids) :]
            begin = time.perf_counter()
            run = retrieval_run(q, d, query_ids, doc_ids, k=args.k, chunk=args.chunk)
            search_s = time.perf_counter() - begin
            scores = retrieval_metrics(run, qrels).mean()
            metrics_s = time.perf_counter() - begin - search_s
            rows.append(
                {
                    "strategy": name,
                    "width": int(q.shape[1]),
                    "search_s": round(search_s, 4),
                    "metrics_s": round(metrics_s, 4),
                    "ndcg@10": round(scores["ndcg@10"], 4),
                }
            )
        scoring_cpu_s = time.process_time() - scoring_cpu
        mean_q = vectors["mean"][: len(query_ids)]
        mean_d = vectors["mean"][len(query_ids) :]
        memory = []
        for n_docs in (args.docs // 2, args.docs):
            for chunk in (1024, 4096):
                peak = search_peak(mean_q, mean_d[:n_docs], chunk, args.k)
                full = len(mean_q) * n_docs * 4  # one float32 score matrix
                inputs = (len(mean_q) + n_docs) * mean_q.shape[1] * 4  # one copy of the vectors
                memory.append(
                    {
                        "docs": n_docs,
                        "chunk": chunk,
                        "peak_mb": round(peak / 2**20, 2),
                        "vectors_mb": round(inputs / 2**20, 2),
                        "full_matrix_mb": round(full / 2**20, 2),
                    }
                )
    scoring_s = sum(r["search_s"] + r["metrics_s"] for r in rows)
    payload = {
        "what": (
            f"{len(doc_ids):,} manpages passages and {len(query_ids):,} NAME-summary queries, "
            f"MiniLM-L6, {len(strategies)} symmetric strategies from one forward pass; exact "
            f"cosine search (top {args.k}, chunk {args.chunk}) and pytrec_eval metrics per "
            f"strategy, {args.threads} thread(s)"
        ),
        "docs": len(doc_ids),
        "queries": len(query_ids),
        "strategies": len(strategies),
        "threads": args.threads,
        "embed_s": round(embed_s, 2),
        "scoring_s": round(scoring_s, 2),
        "search_s": round(sum(r["search_s"] for r in rows), 2),
        "metrics_s": round(sum(r["metrics_s"] for r in rows), 2),
        "scoring_over_embedding": round(scoring_s / embed_s, 4),
        # process CPU time: what the work costs, whatever else the shared machine runs
        "embed_cpu_s": round(embed_cpu_s, 2),
        "scoring_cpu_s": round(scoring_cpu_s, 2),
        "scoring_over_embedding_cpu": round(scoring_cpu_s / embed_cpu_s, 4),
        "per_strategy": rows,
        "memory": memory,
    }
    write_results(args.out, payload, started)
    print(
        f"embedding {embed_s:.1f} s, scoring {scoring_s:.1f} s "
        f"({100 * scoring_s / embed_s:.1f}% of embedding; CPU time "
        f"{100 * scoring_cpu_s / embed_cpu_s:.1f}%)"
    )
    for m in memory:
        print(f"  {m['docs']:>6} docs, chunk {m['chunk']}: peak {m['peak_mb']} MB "
              f"(full matrix {m['full_matrix_mb']} MB)")  # fmt: skip


if __name__ == "__main__":
    main()
