"""The manpages retrieval collection: roff to text, the construction rule, fetching with apt."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from fake_debs import (
    EXPECTED_DOCS,
    EXPECTED_QRELS,
    EXPECTED_QUERIES,
    install_fake_apt,
    make_manpages_debs,
    register_fake_manpages,
)

from hiddenpool.cli.main import main
from hiddenpool.data import FetchError, RetrievalData, get_dataset_info, load_retrieval
from hiddenpool.data.deb import deb_members
from hiddenpool.data.load import load_dataset, parsed_cache_path
from hiddenpool.data.manpages import build_manpages, read_pages
from hiddenpool.data.roff import expand_escapes, roff_sections, split_arguments


def _text(body: str, section: str = "DESCRIPTION") -> str:
    return roff_sections(f".TH X 1\n.SH {section}\n{body}\n")[section]


# (roff, the text man prints), each worked out by hand from groff's rules.
ROFF_CASES = [
    (".B O_CREAT\nis set", "O_CREAT is set"),
    (".BR open (2),\n.IR path name .", "open(2), pathname."),  # alternating fonts, no spaces
    ('.BI "int " fd );', "int fd);"),
    ('.I "two words" and', "two words and"),
    ("a \\fBbold\\fP and \\f(CWfixed\\fR \\f[I]it\\f[]", "a bold and fixed it"),
    (
        "x\\-1 \\(aq\\[aq] \\(em\\[em] \\e \\[bu] \\(lq\\*(rq",
        "x-1 '' \u2014\u2014 \\ \u2022 \u201c\u201d",
    ),
    ("no\\&break\\% here\\:", "nobreak here"),
    ("a\\ b\\~c", "a b c"),
    ('text \\" a comment', "text"),
    ('.BR captest (8), \\" from libcap-ng\nnext', "captest(8), next"),  # comment in a request
    ("join\\c\n.B ed\nwords", "joined words"),
    ("one\ntwo\n\nthree", "one two\n\nthree"),  # a blank line is a paragraph break
    ("one\n.PP\ntwo\n.sp\nthree", "one\n\ntwo\n\nthree"),
    (
        '.TP\n.B O_APPEND\nAppend\nmode.\n.TP\n.BR O_ASYNC " (since 2.6)"\nSignal.',
        "O_APPEND\nAppend mode.\n\nO_ASYNC (since 2.6)\nSignal.",
    ),
    (".IP \\[bu] 3\nfirst\n.IP \\[bu]\nsecond", "\u2022 first\n\n\u2022 second"),
    (".nf\n  int x;\n  int y;\n.fi\nfilled\nagain", "  int x;\n  int y;\n\nfilled again"),
    (".EX\nif (a)\n    b();\n.EE", "if (a)\n    b();"),
    (".SS Flags\nSome flags.", "Flags\n\nSome flags."),
    (".RS 4\nindented\n.RE\n.in +4n\n.ad l\n.nh\nplain", "indented plain"),
    (".UR https://x.org/a\nthe site\n.UE .", "the site <https://x.org/a>."),
    (".ds Q quoted\nsay \\*Q and \\*[Q]", "say quoted and quoted"),
    (".de q\n\\\\$3\\*(lq\\\\$1\\*(rq\\\\$2\n..\n.q word , see", "see\u201cword\u201d,"),
    (".if t \\{\\\n.ft CW\ntypeset only\n\\}\n.if n terminal\nafter", "terminal after"),
    (".ie \\n(.g .ds x groff\n.el .ds x other\n\\*x", "groff"),
    (".ie '\\[rq]'' .ds y empty\n.el .ds y glyph\n\\*y", "glyph"),
    (".if !n never\nshown", "shown"),
    ("long \\\nline", "long line"),  # an escaped newline continues the line
]


@pytest.mark.parametrize(("roff", "expected"), ROFF_CASES)
def test_roff_prints_what_man_prints(roff: str, expected: str) -> None:
    assert _text(roff) == expected


def test_tbl_tables_become_one_line_per_row() -> None:
    roff = (
        ".TS\nallbox;\nlbx lb lb\nl l l.\nInterface\tAttribute\tValue\n"
        "T{\n.BR atof ()\nT}\tThread safety\tMT-Safe locale\n_\n.TE\nafter"
    )
    assert _text(roff) == "Interface Attribute Value\natof() Thread safety MT-Safe locale\n\nafter"
    colon = (
        ".TS\ntab(:);\nl l.\n\\fIcall\\fR:Man page\nT{\n.B SYS_BIND\nT}:T{\n.BR bind (2)\nT}\n.TE"
    )
    assert _text(colon) == "call Man page\nSYS_BIND bind(2)"


def test_sections_and_arguments() -> None:
    sections = roff_sections(
        '.\\" comment\n.TH LS 1\n.SH NAME\nls \\- list files\n.SH "SEE ALSO"\n.BR dir (1)'
    )
    assert sections == {"NAME": "ls - list files", "SEE ALSO": "dir(1)"}
    assert split_arguments('a "b c" "say ""hi"" x" \\fBd\\ e') == [
        "a",
        "b c",
        'say "hi" x',
        "\\fBd\\ e",
    ]
    assert expand_escapes("\\N'34'\\s-1small\\s0\\w'abc'x") == '"smallx'


def test_deb_members_reads_files_and_links(tmp_path: Path) -> None:
    main_deb, _ = make_manpages_debs(tmp_path)
    members = {m.path: m for m in deb_members(main_deb, "usr/share/man/")}
    assert members["usr/share/man/man2/creat.2.gz"].link == "open.2.gz"
    assert members["usr/share/man/man2/open.2.gz"].link is None
    assert "usr/share/doc/manpages/copyright" not in members
    (tmp_path / "not.deb").write_bytes(b"PK\x03\x04")
    with pytest.raises(ValueError, match=r"not.deb: not a Debian package \(no ar header\)"):
        list(deb_members(tmp_path / "not.deb"))


def test_the_construction_rule_on_hand_checked_pages(tmp_path: Path) -> None:
    debs = make_manpages_debs(tmp_path)
    pages, aliases, dropped = read_pages(debs)
    assert [p.page_id for p in pages] == list(EXPECTED_DOCS)
    assert aliases == {"creat.2": "open.2", "openat.2": "open.2", "fdopen.3": "fopen.3"}
    assert dropped == {
        "nodesc.7": "no DESCRIPTION section",
        "noname.5": "no 'name - summary' NAME line",
    }
    data = build_manpages(debs)
    assert data.doc_ids == EXPECTED_DOCS
    assert dict(zip(data.query_ids, data.query_texts, strict=True)) == EXPECTED_QUERIES
    assert {q: dict(r) for q, r in data.qrels.items()} == EXPECTED_QRELS
    opened = data.doc_ids.index("open.2")
    assert data.doc_titles[opened] == "open, openat, creat"
    assert data.doc_texts[opened] == "open() opens the file pathname.\n\nO_APPEND\nAppend mode."
    assert data.documents[opened].startswith("open, openat, creat open() opens")
    only_own = build_manpages(debs, see_also=False)
    assert all(set(r.values()) == {2} for r in only_own.qrels.values())


def test_load_retrieval_fetches_with_apt_once_then_reads_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HIDDENPOOL_CACHE", str(tmp_path / "cache"))
    info, calls = register_fake_manpages(monkeypatch, tmp_path)
    data = load_retrieval("manpages")
    assert calls == [
        ["apt-get", "download", "manpages=6.03-2"],
        ["apt-get", "download", "manpages-dev=6.03-2"],
    ]
    assert data.doc_ids == EXPECTED_DOCS and data.task == "retrieval"
    cached = parsed_cache_path(info)
    assert json.loads(cached.read_text())["qrels"] == EXPECTED_QRELS
    again = load_retrieval("manpages")
    assert len(calls) == 2  # no client run: the parsed cache answers
    assert again == data
    with pytest.raises(
        ValueError, match=r"dataset manpages is a retrieval collection .*load_retrieval"
    ):
        load_dataset("manpages")
    with pytest.raises(ValueError, match=r"dataset trec is a classification dataset.*load_dataset"):
        load_retrieval("trec")


def test_fetch_failures_name_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HIDDENPOOL_CACHE", str(tmp_path / "cache"))
    info, _ = register_fake_manpages(monkeypatch, tmp_path, size=4)
    with pytest.raises(
        ValueError,
        match=r"manpages: built 5 documents from manpages_6.03-2_all.deb, "
        r"manpages-dev_6.03-2_all.deb; the registry expects 4",
    ):
        load_retrieval("manpages")
    assert not parsed_cache_path(info).exists()
    install_fake_apt(monkeypatch, None)
    for path in (tmp_path / "cache" / "datasets").glob("*.deb"):
        path.unlink()
    with pytest.raises(
        FetchError,
        match=r"could not download Debian manpages=6.03-2 .* with apt-get.*Unable to locate",
    ):
        load_retrieval("manpages")
    (tmp_path / "cache" / "datasets" / "manpages_6.03-2_all.deb").write_bytes(b"tampered")
    install_fake_apt(monkeypatch, [tmp_path / "other.deb"])
    with pytest.raises(FetchError):  # the tampered file is dropped and fetched again
        load_retrieval("manpages")
    assert not (tmp_path / "cache" / "datasets" / "manpages_6.03-2_all.deb").exists()


def test_retrieval_data_rejects_bad_collections() -> None:
    ok = {"name": "t", "doc_ids": ("a", "b"), "doc_titles": ("", ""), "doc_texts": ("x", "y"),
          "query_ids": ("q",), "query_texts": ("z",), "qrels": {"q": {"a": 1}}}  # fmt: skip
    RetrievalData(**ok)  # type: ignore[arg-type]
    cases = [
        ({"doc_ids": (), "doc_titles": (), "doc_texts": ()}, r"t: the corpus is empty"),
        ({"doc_ids": ("a", "a")}, r"t: document id 'a' appears twice"),
        ({"qrels": {"q": {"c": 1}}}, r"qrels of query 'q' name unknown document id 'c'"),
        ({"qrels": {"q": {"a": 1}, "p": {"a": 1}}}, r"qrels name unknown query id 'p'"),
        ({"qrels": {"q": {"a": 0}}}, r"query 'q' has no relevant document"),
        ({"qrels": {"q": {"a": -1}}}, r"relevance -1; expected 0 or more"),
        ({"query_texts": ()}, r"1 query ids for 0 texts"),
    ]
    for change, message in cases:
        with pytest.raises(ValueError, match=message):
            RetrievalData(**{**ok, **change})  # type: ignore[arg-type]


def test_datasets_command_says_it_is_constructed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("manpages "))
    assert (
        "retrieval" in row
        and "1,098" in row
        and "Debian manpages=6.03-2 manpages-dev=6.03-2" in row
    )
    for name in ("trec", "rotten-tomatoes", "vader-movies-polarity"):
        row = next(line for line in out.splitlines() if line.startswith(f"{name} "))
        assert "classification,clustering" in row, name
    row = next(line for line in out.splitlines() if line.startswith("vader-movies "))
    assert "clustering" not in row
    assert main(["datasets", "-v"]) == 0
    verbose = capsys.readouterr().out
    info = get_dataset_info("manpages")
    assert f"  relevance: {info.constructed}\n" in verbose and "constructed, not judged" in verbose
    assert "manpages-dev_6.03-2_all.deb (sha256 96f55cb5e262...)" in verbose


def test_registry_pins_are_the_debian_files() -> None:
    info = get_dataset_info("manpages")
    assert info.client == "apt" and [f.package for f in info.files] == ["manpages", "manpages-dev"]
    with pytest.raises(ValueError, match=r"client='conda'; expected one of"):
        replace(info, client="conda")
