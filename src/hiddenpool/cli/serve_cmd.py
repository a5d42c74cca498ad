"""``hiddenpool serve [MODEL]``: any strategy behind OpenAI- and TEI-compatible HTTP APIs."""

from __future__ import annotations

import argparse
import signal
import sys
from typing import Any

from hiddenpool.cli.common import add_model_arguments, model_from_args, positive

__all__ = ["HELP", "NAME", "add_arguments", "run"]

NAME = "serve"
HELP = "serve embeddings of any strategy (OpenAI- and TEI-compatible, batched across requests)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Serve MODEL's vectors over HTTP: POST /v1/embeddings (OpenAI), POST /embed "
        "(text-embeddings-inference), POST /predict (a `hiddenpool train` model's head), "
        "GET /v1/models, /health, /metrics (Prometheus), /docs. The pooling is the model's own "
        "(its sentence-transformers Pooling config, or its trained pooler); a folder without one "
        "needs --pooling. Several --pooling values are served from one loaded model; a request "
        "picks one with model=NAME:SPEC, the first is the default. A spec with fitted stages "
        "('mean | whiten(256)', '| int8') needs --transform STATE; int8/binary vectors are served "
        "as integers. /v1/embeddings also takes token ids of the model's tokenizer, as OpenAI "
        "does. SIGTERM or Ctrl-C finishes every accepted request, then exits 0."
    )
    add_model_arguments(parser, positional="MODEL", max_length=True)
    parser.add_argument(
        "--pooling", action="append", default=[], metavar="SPEC", help="a strategy to serve"
    )
    parser.add_argument(
        "--transform",
        default=None,
        metavar="STATE",
        help="fitted stages for --pooling specs with them ('mean | whiten(256)', '| int8'): the "
        ".stages.safetensors file `hiddenpool embed --fit/--fit-self` writes; the server then "
        "gives the vectors `embed --transform STATE` gives",
    )
    parser.add_argument("--served-name", default=None, help="model name (default: folder name)")
    parser.add_argument("--backend", choices=("torch", "onnx", "onnx-int8"), default="torch")
    net = parser.add_argument_group("network and limits")
    net.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    net.add_argument("--port", type=positive, default=8080)
    net.add_argument("--api-key", default=None, help="bearer token required but on /health")
    net.add_argument(
        "--max-batch-tokens",
        type=positive,
        default=None,
        metavar="N",
        help="padded tokens per forward pass (default: 512 on a CPU, measured in bench/README.md; "
        "on a GPU what suits the backend)",
    )
    net.add_argument(
        "--max-group-tokens",
        type=positive,
        default=None,
        metavar="N",
        help="estimated tokens of the requests batched together, sorted by length and cut into "
        "forward passes (default: 4096, or --max-batch-tokens if larger)",
    )
    net.add_argument(
        "--max-wait-ms",
        type=float,
        default=10.0,
        metavar="MS",
        help="how long the model waits for more requests when fewer are queued than its last "
        "batch held (a lone client never waits; default: 10)",
    )
    net.add_argument(
        "--max-queue",
        type=positive,
        default=2048,
        metavar="N",
        help="texts that may wait; beyond, 429 with Retry-After (default: 2048, seconds of work "
        "on a CPU: an overloaded server answers 429 early instead of queueing for minutes)",
    )
    net.add_argument(
        "--max-inputs",
        type=positive,
        default=2048,
        metavar="N",
        help="texts per request (default: 2048, OpenAI's limit)",
    )
    net.add_argument("--max-input-chars", type=positive, default=100_000, metavar="N")
    net.add_argument("--max-body-bytes", type=positive, default=8 * 1024 * 1024, metavar="N")


def _serve(app: Any, host: str, port: int) -> None:
    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, log_level="info", access_log=False)
    server = uvicorn.Server(config)
    # uvicorn drains in-flight requests on SIGTERM/SIGINT, then re-raises the signal it caught
    # to the handler installed before it; a no-op one there makes a drained shutdown exit 0.
    previous = {s: signal.signal(s, lambda *_: None) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run(args: argparse.Namespace) -> int:
    from hiddenpool._runtime import resolve_device, resolve_dtype
    from hiddenpool.serve import EngineSettings, ServeSettings, create_app, load_served_model
    from hiddenpool.serve.engine import CPU_BATCH_TOKENS

    where = resolve_device(args.device)
    served = load_served_model(
        model_from_args(args),
        args.pooling,
        served_name=args.served_name,
        backend=args.backend,
        device=where,
        dtype=resolve_dtype(args.dtype, where),
        max_length=args.max_length,
        trust_remote_code=args.trust_remote_code,
        allow_pickle=args.allow_pickle,
        transform=args.transform,
    )
    on_cpu = served.encoder.backbone.device.type == "cpu"
    batch = args.max_batch_tokens or (CPU_BATCH_TOKENS if on_cpu else served.encoder.batch_tokens)
    engine = EngineSettings(
        max_batch_tokens=batch,
        max_group_tokens=args.max_group_tokens or max(4096, batch),
        max_wait_ms=args.max_wait_ms,
        max_queue=max(args.max_queue, args.max_inputs),
    )
    settings = ServeSettings(
        engine=engine,
        max_inputs=args.max_inputs,
        max_input_chars=args.max_input_chars,
        max_body_bytes=args.max_body_bytes,
        api_key=args.api_key,
    )
    print(f"serving {served.name} (max {served.max_length} tokens per text):", file=sys.stderr)
    for strategy in served.strategies:
        flag = " (default)" if strategy is served.default else ""
        norm = ", L2-normalised" if strategy.normalize else ""
        kind = f", {strategy.dtype} values" if strategy.dtype != "float32" else ""
        print(f"  {strategy.name}{flag}: width {strategy.width}{norm}{kind}", file=sys.stderr)
        print(f"    pooling from {strategy.source}", file=sys.stderr)
    if served.predictor is not None:
        print("  POST /predict: the trained head's predictions", file=sys.stderr)
    print(f"  http://{args.host}:{args.port}/docs", file=sys.stderr, flush=True)
    _serve(create_app(served, settings), args.host, args.port)
    return 0
