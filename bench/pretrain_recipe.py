"""Running a long pretraining recipe across sessions and recording it (bench scripts only).

``run_recipe`` starts the run, or resumes it when its output folder holds an unfinished one (a
session ends after three hours, background jobs with it: run the same command again), and when
it finishes writes the training metrics to docs/study/NAME.json: the settings, the held-out
metrics before and after, the loss curve, tokens seen, seconds per session, the share of
documents longer than one block, and where it ran (command, commit, date, CPU, threads, load).
The weights stay out of git, in the hiddenpool cache.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from provenance import ROOT, provenance

STUDY = ROOT / "docs" / "study"

__all__ = ["STUDY", "cut_share", "run_recipe"]


def cut_share(corpus: Path, tokenizer_folder: Path, max_length: int, specials: int) -> dict:
    """Share of the corpus's documents longer than one block (cut by the max length)."""
    from transformers import AutoTokenizer

    from hiddenpool.pretrain import corpus_files, iter_documents

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_folder)
    content = max_length - specials
    documents = cut = 0
    batch: list[str] = []

    def count(texts: list[str]) -> int:
        ids = tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]
        return sum(len(x) > content for x in ids)

    for doc in iter_documents(corpus_files(corpus)):
        batch.append(doc)
        documents += 1
        if len(batch) == 512:
            cut += count(batch)
            batch = []
    if batch:
        cut += count(batch)
    return {"documents": documents, "longer_than_a_block": cut, "share": cut / max(documents, 1)}


def _sessions(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text()) if path.is_file() else []


def run_recipe(name: str, config: Any, threads: int | None) -> Path:
    """Run (or resume) ``config`` and write docs/study/NAME.json; returns that file.

    Args:
        name: the recipe's name (the results file's).
        config: a ``PretrainConfig``.
        threads: torch threads; None keeps torch's default (the machine's cores).
    """
    import torch

    from hiddenpool.pretrain import RECORD, WORK, pretrain

    if threads is not None:
        torch.set_num_threads(threads)
    out = Path(config.out)
    log = out.parent / f".{out.name}.sessions.json"  # beside the run: survives its end
    started = provenance()
    session: dict[str, Any] = {
        "started_utc": started["date_utc"],
        "load_before": started["load_before"],
    }
    if not (out / RECORD).is_file():
        resume = (out / WORK / "run.json").is_file()
        clock = time.perf_counter()
        result = pretrain(config, resume=resume, log_lines=True)
        session["seconds"] = round(time.perf_counter() - clock, 1)
        session["resumed_from"] = result.record["train"]["resumed_from"]
        session["load_after"] = [round(x, 2) for x in os.getloadavg()]
        sessions = [*_sessions(log), session]
        log.write_text(json.dumps(sessions, indent=2) + "\n")
    record = json.loads((out / RECORD).read_text())
    specials = 0 if config.objective == "clm" else 2
    payload = {
        "provenance": started,
        "recipe": name,
        "objective": config.objective,
        "weights": str(out),
        "model": record["model"],
        "corpus": {
            **record["corpus"],
            "cut_by_max_length": cut_share(Path(config.corpus), out, config.max_length, specials),
        },
        "held_out_before": record["eval_before"],
        "held_out_after": record["eval_after"],
        "tokens_seen": record["train"]["tokens_seen"],
        "steps": record["train"]["global_step"],
        "train_seconds_last_session": record["train"]["seconds"],
        "sessions": _sessions(log),
        "threads": record["train"]["threads"],
        "precision": record["train"]["precision"],
        "machine": record["train"]["machine"],
        "loss_curve": record["train"]["log_history"],
        "settings": record["settings"],
    }
    STUDY.mkdir(parents=True, exist_ok=True)
    path = STUDY / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {path}", flush=True)
    return path
