"""Reading a corpus as documents: formats, folders, paragraphs, the held-out split, bad input."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hiddenpool.pretrain import corpus_files, is_held_out, iter_documents


def test_txt_is_a_document_per_line_without_blank_lines(tmp_path) -> None:
    path = tmp_path / "lines.txt"
    path.write_text("first doc\n  second doc  \r\nthird\n", encoding="utf-8")
    assert list(iter_documents([path])) == ["first doc", "second doc", "third"]


def test_txt_with_blank_lines_is_a_document_per_paragraph(tmp_path) -> None:
    path = tmp_path / "paras.txt"
    path.write_text("one\ncontinued\n\n\n  \ntwo\n\nthree\nand more", encoding="utf-8")
    assert list(iter_documents([path])) == ["one\ncontinued", "two", "three\nand more"]


def test_tables_read_their_text_column_and_skip_blank_rows(tmp_path) -> None:
    jsonl = tmp_path / "a.jsonl"
    jsonl.write_text(
        "\n".join(json.dumps({"id": i, "body": t}) for i, t in enumerate(["x y", " ", "z"]))
    )
    csv = tmp_path / "b.csv"
    csv.write_text('id,body\n1,"comma, inside"\n2,\n')
    parquet = tmp_path / "c.parquet"
    pq.write_table(pa.table({"body": ["from parquet", ""]}), parquet)
    docs = list(iter_documents([jsonl, csv, parquet], text_column="body"))
    assert docs == ["x y", "z", "comma, inside", "from parquet"]


def test_a_folder_is_every_supported_file_in_sorted_order(tmp_path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.txt").write_text("b\n")
    (tmp_path / "a.txt").write_text("a\n")
    (tmp_path / "notes.md").write_text("ignored\n")
    files = corpus_files(tmp_path)
    assert files == [tmp_path / "a.txt", tmp_path / "sub" / "b.txt"]
    assert list(iter_documents(files)) == ["a", "b"]


def test_missing_unknown_and_empty_corpora_are_refused(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="nope: no such corpus file or folder"):
        corpus_files(tmp_path / "nope")
    (tmp_path / "x.md").write_text("text")
    with pytest.raises(ValueError, match=r"unknown corpus format '\.md'; expected \.txt, \.csv"):
        corpus_files(tmp_path / "x.md")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"the folder holds no \.txt, \.csv"):
        corpus_files(tmp_path / "empty")


def test_held_out_split_is_stable_and_close_to_the_fraction() -> None:
    texts = [f"document number {i}" for i in range(4000)]
    held = [t for t in texts if is_held_out(t, 0.1)]
    assert 0.085 < len(held) / len(texts) < 0.115
    assert held == [t for t in reversed(texts) if is_held_out(t, 0.1)][::-1]
    assert all(is_held_out(t, 0.2) for t in held)  # a larger slice contains the smaller one
