"""Throughput of ``Encoder`` against sentence-transformers, PyTorch and ONNX, same texts, one run.

    python bench/embed_throughput.py --texts 1000 --repeats 3 --threads 1 \
        [--st-onnx-python /tmp/st-onnx/bin/python]

Writes bench/results/embed_throughput.json (``--out``) with bench/provenance.py's record.

Contenders (MiniLM-L6, max_length 256, fp32, CPU), interleaved, medians reported:

- ``st-torch``: ``SentenceTransformer.encode`` (batch 32, its default);
- ``hp-torch``: ``Encoder().encode`` (token-budget batches, the default torch path);
- ``st-onnx``: sentence-transformers ``backend="onnx"`` in its own environment (see
  bench/embed_st_onnx_worker.py); without ``--st-onnx-python``, ``ort-st-export`` instead: the
  plain transformer exported by torch.onnx as optimum does, run by ONNX Runtime with
  sentence-transformers' batching and pooling;
- ``hp-onnx`` and ``hp-onnx-int8``: ``Encoder(backend="onnx" / "onnx-int8")``.

Also reported: max abs differences (hp-torch vs st-torch; hp-onnx vs hp-torch for ``mean``,
``mean@-4:``, ``cls@concat(-4:)``), tokens/s, the share of the machine's fp32 matmul peak that
the model's FLOPs reach, and what int8 keeps of the float32 vectors.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from embed_common import (
    fp32_peak_gflops,
    interleave,
    median,
    movie_texts,
    ort_matmul_gflops,
    spread,
)
from provenance import provenance, write_results

from hiddenpool import Encoder
from hiddenpool.backbone import default_model_path, load_backbone

warnings.filterwarnings("ignore")
MAX_LENGTH = 256
LAYER_SPECS = ["mean", "mean@-4:", "cls@concat(-4:)"]


def model_gflop(lengths: np.ndarray, hidden: int, inner: int, layers: int) -> float:
    """Forward FLOPs of a BERT encoder on texts of ``lengths`` tokens (no padding counted):
    per layer and token 2 * (4 H^2 + 2 H I) for the projections and 4 n H for attention."""
    n = lengths.astype(np.float64)
    per_layer = n * 2 * (4 * hidden**2 + 2 * hidden * inner) + 4 * n**2 * hidden
    return float(layers * per_layer.sum() / 1e9)


class StOnnxWorker:
    """sentence-transformers' onnx backend in another Python environment."""

    def __init__(self, python: str, texts: list[str], threads: int) -> None:
        self.folder = Path(tempfile.mkdtemp())
        texts_file = self.folder / "texts.txt"
        texts_file.write_text("\n".join(t.replace("\n", " ") for t in texts) + "\n")
        worker = Path(__file__).with_name("embed_st_onnx_worker.py")
        self.process = subprocess.Popen(
            [python, str(worker), str(texts_file), str(MAX_LENGTH), "32", str(threads)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._expect("ready")

    def _expect(self, word: str | None = None) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if word is not None and line != word:
            raise RuntimeError(f"st-onnx worker said {line!r}, expected {word!r}")
        return line

    def _send(self, command: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def run(self) -> float:
        self._send("run")
        return float(self._expect())

    def vectors(self) -> np.ndarray:
        path = self.folder / "vectors.npy"
        self._send(f"save {path}")
        self._expect("saved")
        return np.load(path)

    def close(self) -> None:
        self._send("quit")
        self.process.wait()


class OrtOnStExport:
    """What sentence-transformers' onnx backend does, in process: the plain transformer
    exported by torch.onnx (last_hidden_state), ONNX Runtime with default options, batches of
    32 sorted by characters, mean pooling and normalisation outside the graph."""

    def __init__(self, texts: list[str], folder: Path) -> None:
        import onnxruntime as ort

        backbone = load_backbone()
        self.tokenizer = backbone.tokenizer
        path = folder / "st_model.onnx"
        inputs = self.tokenizer(["a probe"], return_tensors="pt")
        names = list(inputs.keys())

        class Hidden(torch.nn.Module):  # by name: transformers 5 reordered forward's arguments
            def __init__(self, model: torch.nn.Module) -> None:
                super().__init__()
                self.model = model

            def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
                return self.model(**dict(zip(names, tensors, strict=True))).last_hidden_state

        with torch.no_grad():
            torch.onnx.export(
                Hidden(backbone.model),
                tuple(inputs[k] for k in names),
                str(path),
                input_names=names,
                output_names=["last_hidden_state"],
                opset_version=17,
                dynamo=False,
                dynamic_axes={k: {0: "batch", 1: "tokens"} for k in names},
            )
        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.texts = texts

    def run(self) -> np.ndarray:
        order = np.argsort([-len(t) for t in self.texts], kind="stable")
        out = np.zeros((len(self.texts), 384), dtype=np.float32)
        for start in range(0, len(order), 32):
            rows = order[start : start + 32]
            batch = self.tokenizer(
                [self.texts[i] for i in rows],
                padding=True,
                truncation=True,
                max_length=MAX_LENGTH,
                return_tensors="np",
            )
            hidden = self.session.run(None, {k: v.astype(np.int64) for k, v in batch.items()})[0]
            mask = batch["attention_mask"][..., None].astype(np.float32)
            pooled = (hidden * mask).sum(1) / np.maximum(mask.sum(1), 1e-9)
            out[rows] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--batch-tokens",
        type=int,
        default=None,
        help="default: what the Encoder picks for each backend",
    )
    parser.add_argument(
        "--st-onnx-python",
        default=None,
        help="python of an environment with sentence-transformers[onnx]",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="threads for every contender (default: torch's default)",
    )
    parser.add_argument("--out", default="embed_throughput", help="results file (bench/results/)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    started = provenance()

    from sentence_transformers import SentenceTransformer

    texts = movie_texts(args.texts)
    st = SentenceTransformer(str(default_model_path()), device="cpu")
    st.max_seq_length = MAX_LENGTH
    hp_torch = Encoder(device="cpu", max_length=MAX_LENGTH)
    hp_onnx = Encoder(hp_torch.backbone, max_length=MAX_LENGTH, backend="onnx")
    hp_int8 = Encoder(hp_torch.backbone, max_length=MAX_LENGTH, backend="onnx-int8")
    for encoder in (hp_onnx, hp_int8):  # export (or load from the cache) before timing
        encoder.encode(texts[:8])
        encoder.encode_many(texts[:8], LAYER_SPECS)
    scratch = Path(tempfile.mkdtemp())
    worker = (
        StOnnxWorker(args.st_onnx_python, texts, torch.get_num_threads())
        if args.st_onnx_python
        else None
    )
    peer_name = "st-onnx" if worker else "ort-st-export"
    peer = worker.run if worker else OrtOnStExport(texts, scratch).run

    contenders = {
        "st-torch": lambda: st.encode(texts, batch_size=32),
        "hp-torch": lambda: hp_torch.encode(texts, batch_tokens=args.batch_tokens),
        peer_name: peer,
        "hp-onnx": lambda: hp_onnx.encode(texts, batch_tokens=args.batch_tokens),
        "hp-onnx-int8": lambda: hp_int8.encode(texts, batch_tokens=args.batch_tokens),
    }
    peak = fp32_peak_gflops()
    seconds = interleave(contenders, args.repeats)  # the worker times itself, without the pipe
    peak = max(peak, fp32_peak_gflops())
    ort_peak = max(ort_matmul_gflops(), ort_matmul_gflops())

    # Accuracy, untimed.
    st_vectors = st.encode(texts, batch_size=32, convert_to_numpy=True)
    torch_many = hp_torch.embed(texts, LAYER_SPECS, batch_tokens=args.batch_tokens)
    onnx_many = hp_onnx.encode_many(texts, LAYER_SPECS, batch_tokens=args.batch_tokens)
    int8 = hp_int8.encode(texts, batch_tokens=args.batch_tokens)
    peer_vectors = worker.vectors() if worker else peer()  # type: ignore[operator]
    if worker is not None:
        worker.close()
    fp32 = torch_many.vectors["mean"]
    cosine = (int8 * fp32).sum(1)
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, len(texts), (2, 20_000))
    sims_fp32 = (fp32[a] * fp32[b]).sum(1)
    sims_int8 = (int8[a] * int8[b]).sum(1)
    spearman = float(
        np.corrcoef(np.argsort(np.argsort(sims_fp32)), np.argsort(np.argsort(sims_int8)))[0, 1]
    )

    lengths = np.array(
        [
            len(x)
            for x in hp_torch.backbone.tokenizer(texts, truncation=True, max_length=MAX_LENGTH)[
                "input_ids"
            ]
        ]
    )
    config = hp_torch.backbone.model.config
    gflop = model_gflop(
        lengths, config.hidden_size, config.intermediate_size, config.num_hidden_layers
    )
    tokens = int(lengths.sum())
    med = {name: median(values) for name, values in seconds.items()}
    result = {
        "texts": len(texts),
        "tokens": tokens,
        "repeats": args.repeats,
        "fp32_peak_gflops": round(peak, 1),
        "fp32_peak_gflops_onnxruntime_matmul": round(ort_peak, 1),
        "model_gflop": round(gflop, 1),
        "peer": peer_name,
        "seconds": seconds,
        "median_seconds": med,
        "spread_seconds": {name: spread(values) for name, values in seconds.items()},
        "tokens_per_s": {k: round(tokens / v) for k, v in med.items()},
        "share_of_fp32_peak": {k: round(gflop / v / peak, 3) for k, v in med.items()},
        "share_of_onnxruntime_matmul_peak": {
            k: round(gflop / v / ort_peak, 3) for k, v in med.items()
        },
        "ratios": {
            "hp-torch / st-torch": round(med["st-torch"] / med["hp-torch"], 3),
            f"hp-onnx / {peer_name}": round(med[peer_name] / med["hp-onnx"], 3),
            f"hp-onnx-int8 / {peer_name}": round(med[peer_name] / med["hp-onnx-int8"], 3),
            "hp-onnx-int8 / hp-onnx": round(med["hp-onnx"] / med["hp-onnx-int8"], 3),
        },
        "max_abs_diff": {
            "hp-torch vs st-torch": float(np.abs(fp32 - st_vectors).max()),
            f"{peer_name} vs st-torch": float(np.abs(peer_vectors - st_vectors).max()),
            **{
                f"hp-onnx vs hp-torch {s}": float(
                    np.abs(onnx_many[s] - torch_many.vectors[s]).max()
                )
                for s in LAYER_SPECS
            },
        },
        "int8": {
            "cosine_to_fp32_mean": float(cosine.mean()),
            "cosine_to_fp32_min": float(cosine.min()),
            "pairwise_similarity_spearman": spearman,
        },
    }
    print(json.dumps(result, indent=2))
    write_results(args.out, result, started)


if __name__ == "__main__":
    sys.exit(main())
