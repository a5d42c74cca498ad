"""Pretraining throughput: ``hiddenpool pretrain`` against a plain Hugging Face script.

The same RoBERTa (``--size``), the same corpus and tokenizer, the same batch and steps, one torch
thread each, run interleaved (A B C A B C ..., ``--rounds`` of them) in fresh processes:

- ``hiddenpool``: ``hiddenpool pretrain`` as a user runs it for speed on a CPU: blocks packed
  from the token stream (no padding), logits at masked positions only, ``--precision bf16``;
- ``hiddenpool-fp32``: the same in float32 (what bf16 alone buys, and whether its loss curve
  holds: the two see the same blocks and masks);
- ``plain``: the script most people write: documents tokenized one by one (truncated at the max
  length), ``Trainer`` + ``DataCollatorForLanguageModeling`` padding each batch, float32.

Throughput is real (non-padding) tokens trained on per second of ``Trainer.train``; achieved
FLOP/s is the usual 6 x parameters x tokens/s, set against this CPU's measured matmul peak
(2048 x 2048, same thread count, bf16 and fp32). Results: bench/results/pretrain_throughput.json.

    python bench/pretrain_throughput.py                 # 3 rounds, 16 steps, batch 16, length 128

bench/README.md's section is rendered from the results file by ``bench/render_readme.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from provenance import provenance, write_results

NAME = "pretrain_throughput"
VARIANTS = ("hiddenpool", "plain", "hiddenpool-fp32")


def _matmul_peak(dtype_name: str, threads: int, size: int = 2048, reps: int = 5) -> float:
    import torch

    torch.set_num_threads(threads)
    dtype = getattr(torch, dtype_name)
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    a @ b  # warm-up
    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best


def _hiddenpool(args: argparse.Namespace, precision: str, work: Path) -> dict[str, Any]:
    out = work / f"hp-{precision}-{time.monotonic_ns()}"
    argv = [
        sys.executable, "-m", "hiddenpool", "pretrain", str(args.corpus), "--out", str(out),
        "--size", args.size, "--vocab-size", str(args.vocab_size),
        "--max-length", str(args.max_length), "--batch-size", str(args.batch_size),
        "--max-steps", str(args.steps), "--save-steps", str(10 * args.steps),
        "--logging-steps", "1", "--max-eval-blocks", "64", "--eval-fraction", "0.02",
        "--precision", precision, "--threads", str(args.threads), "--quiet", "--lr", "1e-3",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    subprocess.run(argv, check=True, capture_output=True, env=env)
    record = json.loads((out / "pretrain.json").read_text())
    train = record["train"]
    return {
        "tokens": train["tokens_seen"],
        "seconds": train["seconds"],
        "tokens_per_second": train["tokens_seen"] / train["seconds"],
        "parameters": record["model"]["parameters"],
        "loss_curve": [e["loss"] for e in train["log_history"] if "loss" in e],
        "tokenizer": str(out),
    }


def _plain_worker(spec: dict[str, Any]) -> dict[str, Any]:
    """The plain script, run in its own process (``--plain-worker``)."""
    import torch
    from transformers import (
        AutoTokenizer,
        DataCollatorForLanguageModeling,
        RobertaConfig,
        RobertaForMaskedLM,
        Trainer,
        TrainingArguments,
        set_seed,
    )

    from hiddenpool.pretrain import SIZES, corpus_files, is_held_out, iter_documents

    torch.set_num_threads(spec["threads"])
    set_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(spec["tokenizer"])
    needed = spec["steps"] * spec["batch_size"]
    texts = []
    for doc in iter_documents(corpus_files(spec["corpus"])):
        if not is_held_out(doc, 0.02):
            texts.append(doc)
        if len(texts) >= 4 * needed:
            break
    dataset = [
        {"input_ids": ids}
        for ids in tokenizer(texts, truncation=True, max_length=spec["max_length"])["input_ids"]
    ]
    size = SIZES[spec["size"]]
    model = RobertaForMaskedLM(
        RobertaConfig(
            vocab_size=len(tokenizer),
            hidden_size=size.hidden_size,
            num_hidden_layers=size.num_layers,
            num_attention_heads=size.num_heads,
            intermediate_size=size.intermediate_size,
            max_position_embeddings=spec["max_length"] + 2,
            type_vocab_size=1,
            pad_token_id=tokenizer.pad_token_id,
        )
    )
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15)
    counted = {"tokens": 0}

    def collate(examples: list[dict[str, Any]]) -> dict[str, Any]:
        batch = collator(examples)
        counted["tokens"] += int(batch["attention_mask"].sum())
        return batch

    with tempfile.TemporaryDirectory() as folder:
        trainer = Trainer(
            model=model,
            args=TrainingArguments(
                output_dir=folder,
                max_steps=spec["steps"],
                per_device_train_batch_size=spec["batch_size"],
                learning_rate=1e-3,
                warmup_steps=0.06,
                weight_decay=0.01,
                logging_steps=1,
                save_strategy="no",
                report_to="none",
                use_cpu=True,
                disable_tqdm=True,
            ),
            train_dataset=dataset,
            data_collator=collate,
        )
        start = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - start
    return {
        "tokens": counted["tokens"],
        "seconds": seconds,
        "tokens_per_second": counted["tokens"] / seconds,
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "loss_curve": [e["loss"] for e in trainer.state.log_history if "loss" in e],
    }


def _plain(args: argparse.Namespace, tokenizer: str) -> dict[str, Any]:
    spec = {
        "corpus": str(args.corpus),
        "tokenizer": tokenizer,
        "size": args.size,
        "max_length": args.max_length,
        "batch_size": args.batch_size,
        "steps": args.steps,
        "threads": args.threads,
    }
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    done = subprocess.run(
        [sys.executable, __file__, "--plain-worker", json.dumps(spec)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def measure(args: argparse.Namespace) -> Path:
    started = provenance()
    peaks = {d: _matmul_peak(d, args.threads) for d in ("bfloat16", "float32")}
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        tokenizer = None
        for round_ in range(args.rounds):
            for variant in VARIANTS:
                if variant == "hiddenpool":
                    result = _hiddenpool(args, "bf16", work)
                    tokenizer = tokenizer or result["tokenizer"]
                elif variant == "hiddenpool-fp32":
                    result = _hiddenpool(args, "fp32", work)
                else:
                    assert tokenizer is not None
                    result = _plain(args, tokenizer)
                result.pop("tokenizer", None)
                result["round"] = round_
                runs[variant].append(result)
                print(f"round {round_} {variant}: {result['tokens_per_second']:.0f} tokens/s")
    parameters = runs["hiddenpool"][0]["parameters"]
    summary: dict[str, Any] = {}
    for variant, results in runs.items():
        rates = [r["tokens_per_second"] for r in results]
        flops = [6 * r["parameters"] * x for r, x in zip(results, rates, strict=True)]
        summary[variant] = {
            "tokens_per_second": _summary(rates),
            "flop_per_second": _summary(flops),
            "share_of_bf16_peak": statistics.median(flops) / peaks["bfloat16"],
            "share_of_fp32_peak": statistics.median(flops) / peaks["float32"],
        }
    ratios = [
        a["tokens_per_second"] / b["tokens_per_second"]
        for a, b in zip(runs["hiddenpool"], runs["plain"], strict=True)
    ]
    curves = [r["loss_curve"] for r in runs["hiddenpool"] + runs["hiddenpool-fp32"]]
    gap = max(
        abs(x - y)
        for a, b in zip(runs["hiddenpool"], runs["hiddenpool-fp32"], strict=True)
        for x, y in zip(a["loss_curve"], b["loss_curve"], strict=True)
    )
    payload = {
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "parameters": parameters,
        "matmul_peak_flop_per_second": peaks,
        "summary": summary,
        "speedup_over_plain": {**_summary(ratios), "per_round": ratios},
        "bf16_vs_fp32_max_loss_gap": gap,
        "curves_per_run": len(curves[0]),
        "runs": runs,
    }
    return write_results(NAME, payload, started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=None, help="default: the Linux docs")
    parser.add_argument("--pages", type=int, default=300, help="pages of the Linux docs used")
    parser.add_argument("--size", default="small")
    parser.add_argument("--vocab-size", type=int, default=8000)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--plain-worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plain_worker:
        print(json.dumps(_plain_worker(json.loads(args.plain_worker))))
        return
    if args.corpus is None:
        from pretrain_linux import linux_doc_corpus

        with tempfile.TemporaryDirectory() as folder:
            pages = sorted(linux_doc_corpus().glob("*.txt"))[: args.pages]
            for page in pages:  # a slice: tokenizing 21 MB per run would dwarf 16 steps
                (Path(folder) / page.name).symlink_to(page)
            args.corpus = Path(folder)
            measure(args)
        return
    measure(args)


if __name__ == "__main__":
    main()
