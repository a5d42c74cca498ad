"""The decoder of the studies: a GPT-2-style causal LM pretrained on the Linux kernel docs.

The corpus of ``bench/pretrain_linux.py`` (Debian ``linux-doc-6.1``, pinned), the same size as the
raw RoBERTa (4 layers x 256, 8k byte-level BPE trained on the corpus) and the same token budget
(2,300 steps of 32 x 128 = 9.4M tokens, float32), so the decoder study and the raw-MLM study
compare models trained alike. Resumes by itself when its folder holds an unfinished run (run the
same command in the next session); writes its training metrics (held-out loss, perplexity and
next-token accuracy on the whole held-out split, the loss curve, tokens, seconds, machine,
threads, command) to docs/study/pretrain-linux-gpt2-128.json. The weights stay in the cache.

    python bench/pretrain_decoder.py                # ~90 min on a quiet 2-core CPU
    python bench/pretrain_decoder.py --arch llama   # the Llama-style shape instead
    python bench/pretrain_decoder.py --smoke        # a minute: the recipe at a few steps
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from pretrain_linux import SMOKE, linux_doc_corpus
from pretrain_recipe import run_recipe

from hiddenpool._runtime import cache_root

SETTINGS = {
    "objective": "clm",
    "size": "small",
    "vocab_size": 8000,
    "max_length": 128,
    "batch_size": 32,
    "max_steps": 2300,
    "lr": 1e-3,
    "save_steps": 100,
    "eval_steps": 500,
    "eval_fraction": 0.02,
    "max_eval_blocks": None,  # the whole held-out split
    "precision": "fp32",  # bf16 not consistently faster here (pretrain_throughput)
    "seed": 0,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=("gpt2", "llama"), default="gpt2")
    parser.add_argument("--out", type=Path, default=None, help="default: the cache's models/")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    parser.add_argument("--smoke", action="store_true", help="a few steps, to check the recipe")
    args = parser.parse_args()
    from hiddenpool.pretrain import PretrainConfig

    settings = {**SETTINGS, "architecture": args.arch}
    name = f"pretrain-linux-{args.arch}-128"
    if args.smoke:
        settings.update(SMOKE)
        name += "-smoke"
    out = args.out or cache_root() / "models" / name.removeprefix("pretrain-")
    corpus = linux_doc_corpus()
    config = PretrainConfig(corpus=str(corpus), out=str(out), **settings)  # type: ignore[arg-type]
    run_recipe(name, config, args.threads)


if __name__ == "__main__":
    main()
