"""The real manpages collection from the cached Debian packages; roff text checked against groff.

Skipped only when the two .deb files are not in the hiddenpool cache (``hiddenpool datasets``
tells; ``python -c "from hiddenpool.data import load_retrieval; load_retrieval('manpages')"``
caches them with apt-get).
"""

from __future__ import annotations

import collections
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from hiddenpool.data import get_dataset_info, load_retrieval
from hiddenpool.data.deb import deb_members
from hiddenpool.data.fetch import dataset_cache_dir
from hiddenpool.data.manpages import MAN_ROOT, build_manpages
from hiddenpool.data.roff import roff_sections

pytestmark = pytest.mark.slow

INFO = get_dataset_info("manpages")
DEBS = [dataset_cache_dir() / f.filename for f in INFO.files]
needs_debs = pytest.mark.skipif(
    not all(p.is_file() for p in DEBS), reason="manpages .deb files not cached"
)


@needs_debs
def test_the_real_collection_is_what_the_registry_says(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_client(*args: object, **kwargs: object) -> None:
        raise AssertionError("the cached collection must load without a subprocess")

    monkeypatch.setattr(subprocess, "run", no_client)
    data = build_manpages(DEBS)  # from the packages themselves, not the parsed cache
    grades = collections.Counter(r for judged in data.qrels.values() for r in judged.values())
    assert (len(data.doc_ids), len(data.query_ids)) == (INFO.size, 1_048)
    assert grades == {2: 1_098, 1: 4_925}  # the figures datasets -v states
    shared = [q for q, judged in data.qrels.items() if list(judged.values()).count(2) > 1]
    assert len(shared) == 40
    assert sum(list(data.qrels[q].values()).count(2) for q in shared) == 90
    assert data.query_texts[data.query_ids.index("q:open.2")] == "open and possibly create a file"
    assert {"close.2": 1, "openat2.2": 1, "open.2": 2}.items() <= data.qrels["q:open.2"].items()
    opened = data.doc_texts[data.doc_ids.index("open.2")]
    assert opened.startswith("The open() system call opens the file specified by pathname.")
    assert "rpc.3" not in data.doc_ids and "creat.2" not in data.doc_ids
    cached = load_retrieval("manpages")
    assert cached == data


def _groff_description(source: bytes, width: int = 4000) -> str:
    out = subprocess.run(
        ["groff", "-k", "-t", "-man", "-Tutf8", "-P-cbou", f"-rLL={width}n"],
        input=source,
        capture_output=True,
        check=True,
    ).stdout.decode("utf-8")
    lines = out.split("\n")
    start = lines.index("DESCRIPTION") + 1
    end = next(i for i in range(start, len(lines)) if re.match(r"^[A-Z][A-Z /-]+$", lines[i]))
    return "\n".join(lines[start:end])


@needs_debs
@pytest.mark.skipif(shutil.which("groff") is None, reason="groff is not installed")
def test_descriptions_have_the_words_groff_prints() -> None:
    import gzip

    pages = [
        m
        for deb in DEBS
        for m in deb_members(Path(deb), MAN_ROOT)
        if m.link is None and m.path.endswith(".gz")
    ]
    worst = []
    for member in pages[::12]:  # every twelfth page: ~95 groff runs
        source = gzip.decompress(member.data)
        mine = roff_sections(source.decode("utf-8")).get("DESCRIPTION")
        if mine is None:
            continue
        words = collections.Counter(re.findall(r"\w+", mine))
        reference = collections.Counter(re.findall(r"\w+", _groff_description(source)))
        shared = sum((words & reference).values())
        recall = shared / max(sum(reference.values()), 1)
        precision = shared / max(sum(words.values()), 1)
        worst.append((min(recall, precision), member.path))
    worst.sort()
    assert len(worst) > 80
    assert worst[0][0] > 0.97, worst[:5]
    assert sum(s for s, _ in worst) / len(worst) > 0.998, worst[:5]
