"""A retrieval collection built from the Linux manual pages (Debian ``manpages``, ``manpages-dev``).

No judged IR collection ships inside a PyPI or Debian package, so this one is constructed, by
one rule anyone can check against the pages:

* **Documents**: every page of the packages (a regular ``usr/share/man/man*/*.gz`` file), id
  ``<name>.<section>`` from its file name (``open.2``), title the names of its NAME line
  (``open, openat, creat``), text its DESCRIPTION section as plain text (roff read by
  :mod:`hiddenpool.data.roff`). Left out: ``.so`` redirects and symbolic links (another name
  for a page already in), and pages with no DESCRIPTION or no ``name - summary`` NAME line.
* **Queries**: each page's NAME summary, the part after `` - `` ("open and possibly create a
  file"). A page with several names gives one query, not one per name. Pages whose summaries
  are the same text (compared case- and space-insensitively) give one query, and each of them
  is a fully relevant answer.
* **Relevance**: 2 for the page(s) of the summary; 1 for the pages its SEE ALSO section names
  that are in the collection (``name(section)``, another name resolved through the packages'
  links and redirects), unless already 2.
"""

from __future__ import annotations

import gzip
import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from hiddenpool.data.deb import deb_members
from hiddenpool.data.retrieval import RetrievalData
from hiddenpool.data.roff import roff_sections

__all__ = ["MAN_ROOT", "ManPage", "build_manpages", "read_pages"]

MAN_ROOT = "usr/share/man/"
_PAGE = re.compile(r"^usr/share/man/man[1-9]/([^/]+)\.gz$")
_REFERENCE = re.compile(r"([A-Za-z0-9_][\w.:+-]*)\((\d[a-z]*)\)")
_REDIRECT = re.compile(r"^\.so\s+(\S+)", re.MULTILINE)


@dataclass(frozen=True)
class ManPage:
    """One page read from the packages.

    Attributes:
        page_id: ``<name>.<section>`` (``open.2``).
        names: the names of its NAME line (``open, openat, creat``).
        summary: what follows `` - `` on its NAME line.
        description: its DESCRIPTION section as plain text.
        see_also: the ``name.section`` ids its SEE ALSO section names, in order.
    """

    page_id: str
    names: str
    summary: str
    description: str
    see_also: tuple[str, ...]


def _decode(raw: bytes, where: str) -> str:
    try:
        return gzip.decompress(raw).decode("utf-8")
    except (OSError, EOFError) as exc:
        raise ValueError(f"{where}: not a gzip-compressed man page ({exc})") from None
    except UnicodeDecodeError:
        return gzip.decompress(raw).decode("latin-1")


def _redirect(source: str) -> str | None:
    """The page a ``.so`` page redirects to (``man7/queue.7``), or None for a real page."""
    lines = [line for line in source.split("\n") if line.strip() and not line.startswith('.\\"')]
    if lines and len(lines) <= 2 and (match := _REDIRECT.match(lines[0])):
        return match.group(1)
    return None


def _page_id(path: str) -> str:
    """``man2/open.2.gz`` or ``../man2/open.2.gz`` -> ``open.2``."""
    return posixpath.basename(path).removesuffix(".gz")


def read_pages(debs: Iterable[Path]) -> tuple[list[ManPage], dict[str, str], dict[str, str]]:
    """Every page of the packages, and where the other names point.

    Args:
        debs: the .deb files.

    Returns:
        ``(pages, aliases, dropped)``: the pages with a NAME summary and a DESCRIPTION, sorted
        by id; alias id -> page id for symbolic links and ``.so`` redirects; dropped page id ->
        why it is not a document.
    """
    pages: dict[str, ManPage] = {}
    aliases: dict[str, str] = {}
    dropped: dict[str, str] = {}
    for deb in debs:
        for member in deb_members(deb, MAN_ROOT):
            match = _PAGE.match(member.path)
            if match is None:
                continue
            page_id = match.group(1)
            if member.link is not None:
                aliases[page_id] = _page_id(member.link)
                continue
            source = _decode(member.data, f"{deb.name}:{member.path}")
            if (target := _redirect(source)) is not None:
                aliases[page_id] = _page_id(target)
                continue
            sections = roff_sections(source)
            names, dash, summary = sections.get("NAME", "").replace("\n", " ").partition(" - ")
            description = sections.get("DESCRIPTION", "").strip()
            if not dash or not summary.strip() or not names.strip():
                dropped[page_id] = "no 'name - summary' NAME line"
            elif not description:
                dropped[page_id] = "no DESCRIPTION section"
            else:
                refs = tuple(
                    f"{m.group(1)}.{m.group(2)}"
                    for m in _REFERENCE.finditer(sections.get("SEE ALSO", ""))
                )
                pages[page_id] = ManPage(
                    page_id, " ".join(names.split()), " ".join(summary.split()), description, refs
                )
    return [pages[k] for k in sorted(pages)], aliases, dropped


def _resolve(page_id: str, aliases: dict[str, str], known: set[str]) -> str | None:
    """The document a SEE ALSO reference means, following links (at most 8 hops)."""
    for _ in range(8):
        if page_id in known:
            return page_id
        if page_id not in aliases:
            return None
        page_id = aliases[page_id]
    return None


def build_manpages(
    debs: Sequence[Path], name: str = "manpages", see_also: bool = True
) -> RetrievalData:
    """The collection described in this module, from the two packages' .deb files.

    Args:
        debs: ``manpages`` and ``manpages-dev`` .deb files (any pages-holding .debs work).
        name: the collection's name.
        see_also: grade SEE ALSO pages 1 (False: only the summary's own pages, 2).

    Returns:
        Documents sorted by id; queries in order of their first page's id, query id
        ``q:<first page id>`` (distinct from every document id, so no evaluator drops a
        document as the query itself).

    Raises:
        ValueError: the packages hold no usable page.
    """
    pages, aliases, _ = read_pages(debs)
    if not pages:
        raise ValueError(f"{', '.join(str(d) for d in debs)}: no man page with a DESCRIPTION")
    known = {page.page_id for page in pages}
    by_summary: dict[str, list[ManPage]] = {}
    for page in pages:
        by_summary.setdefault(page.summary.casefold(), []).append(page)
    query_ids: list[str] = []
    query_texts: list[str] = []
    qrels: dict[str, dict[str, int]] = {}
    for group in by_summary.values():
        qid = f"q:{group[0].page_id}"
        judged: dict[str, int] = {}
        if see_also:
            for page in group:
                for ref in page.see_also:
                    target = _resolve(ref, aliases, known)
                    if target is not None:
                        judged[target] = 1
        for page in group:
            judged[page.page_id] = 2
        query_ids.append(qid)
        query_texts.append(group[0].summary)
        qrels[qid] = dict(sorted(judged.items()))
    return RetrievalData(
        name=name,
        doc_ids=tuple(page.page_id for page in pages),
        doc_titles=tuple(page.names for page in pages),
        doc_texts=tuple(page.description for page in pages),
        query_ids=tuple(query_ids),
        query_texts=tuple(query_texts),
        qrels=qrels,
    )
