"""SIGTERM while requests are in flight: every accepted request is answered, then exit 0."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest
from serve_helpers import free_port, post, request

WORDS = "the movie was good bad great story plot fun acting".split()


def _wait_until_up(port: int, process: subprocess.Popen, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        try:
            if request(port, "GET", "/health")[0] == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the server did not come up")


def _outcome(reply: Future) -> Any:
    try:
        return reply.result(timeout=120)
    except ConnectionRefusedError:
        return "refused"


@pytest.mark.slow
def test_sigterm_drains_in_flight_requests_and_exits_zero(tiny_st):
    port = free_port()
    command = [sys.executable, "-m", "hiddenpool", "serve", str(tiny_st), "--port", str(port)]
    command += ["--max-batch-tokens", "256", "--max-wait-ms", "0"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)
    try:
        _wait_until_up(port, process)
        texts = [" ".join(WORDS[(i + k) % len(WORDS)] for k in range(60)) for i in range(300)]
        with ThreadPoolExecutor(4) as pool:
            replies = [
                pool.submit(post, port, "/v1/embeddings", {"input": texts}) for _ in range(6)
            ]
            while request(port, "GET", "/health")[2]["queued_texts"] < 600:
                time.sleep(0.005)  # two requests are queued behind a running one
            process.send_signal(signal.SIGTERM)
            answers = [_outcome(reply) for reply in replies]
        # every request the server accepted is answered in full; one that had not yet connected
        # when the listening socket closed is refused, never cut off
        answered = [a for a in answers if a != "refused"]
        assert len(answered) >= 3
        assert all(status == 200 and len(body["data"]) == 300 for status, _, body in answered)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    log = process.stderr.read() if process.stderr else ""
    assert "tiny-st:mean (default): width 32, L2-normalised" in log
    assert "pooling from the model's own sentence-transformers Pooling" in log
    with pytest.raises(OSError):
        request(port, "GET", "/health")
