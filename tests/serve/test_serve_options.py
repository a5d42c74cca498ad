"""``hiddenpool serve``'s options reach the server it builds.

Each test runs the real command line (``main(["serve", ...])``) in this process with only the last
step, uvicorn's blocking ``run``, replaced by a recorder; the app it built is then served from a
thread (serve_helpers.running) when a test needs HTTP.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from serve_helpers import post, running

from hiddenpool import Encoder
from hiddenpool.cli import serve_cmd
from hiddenpool.cli.main import build_parser, main
from hiddenpool.serve import EngineSettings

pytestmark = pytest.mark.usefixtures("one_thread")

TEXTS = ["the movie was good", "a very long and boring film with bad acting", "great"]


@dataclass
class Launch:
    app: Any
    host: str
    port: int


@pytest.fixture
def serve(monkeypatch):
    """``serve(*argv)`` -> the Launch ``hiddenpool serve *argv`` would run (exit 0 asserted)."""

    def launch(*argv: str) -> Launch:
        launched: list[Launch] = []
        monkeypatch.setattr(serve_cmd, "_serve", lambda *a: launched.append(Launch(*a)))
        assert main(["serve", *argv]) == 0
        (one,) = launched
        return one

    return launch


@pytest.fixture
def load_calls(monkeypatch):
    """The keyword arguments of every AutoModel.from_pretrained call load_backbone makes."""
    from hiddenpool.backbone import loading

    calls: list[dict[str, Any]] = []
    original = loading.AutoModel.from_pretrained

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(loading.AutoModel, "from_pretrained", spy)
    return calls


def _served_vectors(app: Any, texts: list[str], **headers: str) -> np.ndarray:
    with running(app) as port:
        status, _, reply = post(port, "/v1/embeddings", {"input": texts}, headers=headers)
    assert status == 200, reply
    return np.array([row["embedding"] for row in reply["data"]], dtype=np.float32)


def test_defaults_bind_loopback_and_queue_2048_texts_in_512_token_passes(serve, tiny_st):
    args = build_parser().parse_args(["serve", str(tiny_st)])
    assert (args.host, args.port, args.max_queue, args.max_inputs) == (
        "127.0.0.1",
        8080,
        2048,
        2048,
    )
    assert (args.backend, args.dtype, args.allow_pickle, args.trust_remote_code, args.api_key) == (
        "torch",
        "auto",
        False,
        False,
        None,
    )
    launch = serve(str(tiny_st))
    assert (launch.host, launch.port) == ("127.0.0.1", 8080)
    assert launch.app.state.engine.settings == EngineSettings(
        max_batch_tokens=512, max_group_tokens=4096, max_wait_ms=10.0, max_queue=2048
    )
    params = {p.dtype for p in launch.app.state.served.encoder.backbone.model.parameters()}
    assert params == {torch.float32}  # auto on a CPU


def test_network_and_batching_options_reach_the_engine(serve, tiny_st):
    launch = serve(
        str(tiny_st),
        *("--host", "0.0.0.0", "--port", "9191", "--max-batch-tokens", "8192"),
        *("--max-queue", "100", "--max-inputs", "300", "--max-wait-ms", "2.5"),
    )
    assert (launch.host, launch.port) == ("0.0.0.0", 9191)
    # the queue holds at least one whole request; the group is at least one pass
    assert launch.app.state.engine.settings == EngineSettings(
        max_batch_tokens=8192, max_group_tokens=8192, max_wait_ms=2.5, max_queue=300
    )


@pytest.mark.parametrize(
    ("flag", "dtype", "other"), [("bfloat16", "bf16", "fp16"), ("fp16", "fp16", "bf16")]
)
def test_dtype_loads_the_backbone_in_it_and_serves_its_vectors(serve, tiny_st, flag, dtype, other):
    launch = serve(str(tiny_st), "--dtype", flag)
    model = launch.app.state.served.encoder.backbone.model
    wanted = {"bf16": torch.bfloat16, "fp16": torch.float16}[dtype]
    assert {p.dtype for p in model.parameters()} == {wanted}
    got = _served_vectors(launch.app, TEXTS)
    same = Encoder(tiny_st, dtype=dtype).encode(TEXTS)
    np.testing.assert_allclose(got, same, atol=1e-6, rtol=0)
    # bf16, fp16 and float32 vectors differ far beyond that: the check can tell them apart
    for reference in (Encoder(tiny_st, dtype=other).encode(TEXTS), Encoder(tiny_st).encode(TEXTS)):
        assert np.abs(got - reference).max() > 1e-4


@pytest.fixture(scope="module")
def pickled_tiny(tiny_dir, tmp_path_factory) -> Path:
    """The tiny BERT with its weights as pytorch_model.bin only."""
    folder = tmp_path_factory.mktemp("pickled") / "tiny-bin"
    shutil.copytree(tiny_dir("bert"), folder)
    weights = load_file(folder / "model.safetensors")
    (folder / "model.safetensors").unlink()
    torch.save(weights, folder / "pytorch_model.bin")
    return folder


def test_allow_pickle_reaches_the_load(serve, tiny_dir, pickled_tiny, load_calls, capsys):
    assert main(["serve", str(pickled_tiny), "--pooling", "mean"]) == 2
    err = capsys.readouterr().err
    assert "only pickled weights" in err and "--allow-pickle" in err
    assert load_calls == []  # refused before anything is unpickled
    launch = serve(str(pickled_tiny), "--pooling", "mean", "--allow-pickle")
    assert [c["use_safetensors"] for c in load_calls] == [None]
    reference = Encoder(tiny_dir("bert"), "mean", normalize=False).encode(TEXTS)
    np.testing.assert_allclose(_served_vectors(launch.app, TEXTS), reference, atol=1e-6)


def test_trust_remote_code_reaches_the_load(serve, tiny_dir, tmp_path, load_calls, capsys):
    remote = tmp_path / "remote"
    shutil.copytree(tiny_dir("bert"), remote)
    config = json.loads((remote / "config.json").read_text())
    config["auto_map"] = {"AutoModel": "modeling_custom.CustomModel"}
    (remote / "config.json").write_text(json.dumps(config))
    assert main(["serve", str(remote), "--pooling", "mean"]) == 2
    err = capsys.readouterr().err
    assert "ships its own model code" in err and "--trust-remote-code" in err
    assert load_calls == []
    serve(str(tiny_dir("bert")), "--pooling", "mean")
    serve(str(tiny_dir("bert")), "--pooling", "mean", "--trust-remote-code")
    assert [c["trust_remote_code"] for c in load_calls] == [False, True]


def test_backend_onnx_serves_onnx_runtime_vectors_equal_to_torch(
    serve, tiny_st, tmp_path, monkeypatch
):
    pytest.importorskip("onnxruntime")
    from hiddenpool.encode.onnx import OnnxBackend

    monkeypatch.setenv("HIDDENPOOL_CACHE", str(tmp_path / "cache"))
    launch = serve(str(tiny_st), "--backend", "onnx", "--pooling", "mean", "--pooling", "cls@-2")
    assert isinstance(launch.app.state.served.encoder.backend, OnnxBackend)
    got = _served_vectors(launch.app, TEXTS)
    assert list((tmp_path / "cache").rglob("*.onnx"))  # the graph was exported and run
    np.testing.assert_allclose(got, Encoder(tiny_st).encode(TEXTS), atol=1e-5, rtol=0)


def test_api_key_from_the_command_line_is_enforced(serve, tiny_st):
    launch = serve(str(tiny_st), "--api-key", "s3cret")
    body = {"input": ["great"]}
    with running(launch.app) as port:
        assert post(port, "/v1/embeddings", body)[0] == 401
        assert post(port, "/v1/embeddings", body, headers={"Authorization": "Bearer no"})[0] == 401
        status, _, reply = post(
            port, "/v1/embeddings", body, headers={"Authorization": "Bearer s3cret"}
        )
    assert status == 200 and len(reply["data"]) == 1
