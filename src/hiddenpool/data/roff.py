r"""Manual pages in roff (the ``man`` macros) as plain text, section by section.

Enough of roff to read the Linux man-pages project's sources as ``man`` would show them in a
terminal, without groff: the ``man`` macros (``.SH .SS .TH .PP .LP .P .TP .TQ .IP .HP .RS
.RE .B .I .BR .IR .RB .RI .BI .IB .SM .SB .EX .EE .nf .fi .UR .UE .MT .ME .SY .YS .OP``),
string definitions (``.ds``, ``\*(xx``), user macros (``.de``, with ``\$1``..), the
nroff branches of conditionals (``.if n`` taken, ``.if t`` not, ``\n(.g`` true: groff),
tbl tables (``.TS``..``.TE``: one line per row, cells joined by spaces) and the escapes
(fonts ``\fB``, glyphs ``\(aq`` / ``\[em]``, ``\-``, ``\e``, ``\&``, ``\c``...).
Layout requests (indents, adjustment, hyphenation, fonts, sizes) produce nothing.

Output: a filled paragraph is one line (a ``.TP`` tag or a ``.br`` starts another), no-fill
blocks (``.nf``, ``.EX``) keep their lines, paragraphs are separated by one blank line.

>>> sections = roff_sections('.SH NAME\nls \\- list\n.SH DESCRIPTION\n.B ls\nlists \\fIfiles\\fR.')
>>> sections["NAME"], sections["DESCRIPTION"]
('ls - list', 'ls lists files.')
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["GLYPHS", "expand_escapes", "roff_sections", "split_arguments"]

# Special characters the man-pages sources use, as groff -Tutf8 draws them.
GLYPHS: dict[str, str] = {
    "aq": "'", "dq": '"', "bu": "\u2022", "em": "\u2014", "en": "\u2013", "ha": "^",
    "ti": "~", "lq": "\u201c", "rq": "\u201d", "oq": "\u2018", "cq": "\u2019", "ga": "`",
    "sc": "\u00a7", "mc": "\u00b5", "mu": "\u00d7", "di": "\u00f7", "+-": "\u00b1",
    "de": "\u00b0", "dg": "\u2020", "fm": "\u2032", "sd": "\u2033", "la": "\u27e8",
    "ra": "\u27e9", "mi": "\u2212", "hy": "-", "12": "\u00bd", "14": "\u00bc", "34": "\u00be",
    "co": "\u00a9", "rg": "\u00ae", "tm": "\u2122", "rs": "\\", "sl": "/", "ba": "|",
    "br": "\u2502", "ul": "_", "ru": "_", "or": "|", "->": "\u2192", "<-": "\u2190",
    "<=": "\u2264", ">=": "\u2265", "!=": "\u2260", "==": "\u2261", "eq": "=", "pl": "+",
    "^o": "\u00f4", ":a": "\u00e4", ":A": "\u00c4", ":o": "\u00f6", ":O": "\u00d6",
    ":u": "\u00fc", ":U": "\u00dc", "`a": "\u00e0", "^a": "\u00e2", "'a": "\u00e1",
    "'e": "\u00e9", "`e": "\u00e8", "ss": "\u00df", "~n": "\u00f1", ",c": "\u00e7",
    "Fo": "\u00ab", "Fc": "\u00bb", "bq": "\u201e", "aa": "\u00b4", "a^": "^", "a~": "~",
}  # fmt: skip
# Strings groff's man macros predefine.
_STRINGS: dict[str, str] = {"lq": "\u201c", "rq": "\u201d", "R": "\u00ae", "Tm": "\u2122"}
# Escapes that print nothing: zero-width, hyphenation points, thin spaces, italic corrections.
_SILENT = set("&:%|^,/){}")
_MAX_MACRO_DEPTH = 20

_FONT_JOIN = {"BR", "RB", "BI", "IB", "IR", "RI"}  # alternate fonts, no space between
_FONT_SPACE = {"B", "I", "SM", "SB"}  # one font, arguments joined by spaces
_BREAK = {"PP", "LP", "P", "sp", "HP", "ne", "bp"}


def split_arguments(text: str) -> list[str]:
    r"""Split a request's arguments as roff does: by spaces, ``"..."`` quoting, ``""`` a quote.

    Escapes stay as written (``\ `` does not split), for :func:`expand_escapes` to read.

    >>> split_arguments(r'a "b c" \fBd\ e\fR "say ""hi"" now"')
    ['a', 'b c', '\\fBd\\ e\\fR', 'say "hi" now']
    """
    args: list[str] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " \t":
            i += 1
        if i >= n:
            break
        current: list[str] = []
        if text[i] == '"':
            i += 1
            while i < n:
                if text[i] == "\\" and i + 1 < n:
                    current.append(text[i : i + 2])
                    i += 2
                elif text[i] == '"':
                    if i + 1 < n and text[i + 1] == '"':
                        current.append('"')
                        i += 2
                    else:
                        i += 1
                        break
                else:
                    current.append(text[i])
                    i += 1
        else:
            while i < n and text[i] not in " \t":
                if text[i] == "\\" and i + 1 < n:
                    current.append(text[i : i + 2])
                    i += 2
                else:
                    current.append(text[i])
                    i += 1
        args.append("".join(current))
    return args


def _bracketed(text: str, i: int) -> tuple[str, int]:
    r"""The name of an escape at ``text[i]``: ``x``, ``(xx`` or ``[name]``; and the next index."""
    if i >= len(text):
        return "", i
    if text[i] == "(":
        return text[i + 1 : i + 3], i + 3
    if text[i] == "[":
        end = text.find("]", i)
        end = len(text) if end < 0 else end
        return text[i + 1 : end], end + 1
    return text[i], i + 1


def _delimited(text: str, i: int) -> tuple[str, int]:
    r"""The argument of ``\w'..'`` / ``\N'..'`` at ``text[i]`` (any delimiter); the next index."""
    if i >= len(text):
        return "", i
    end = text.find(text[i], i + 1)
    end = len(text) if end < 0 else end
    return text[i + 1 : end], end + 1


def expand_escapes(text: str, strings: dict[str, str] | None = None) -> str:
    r"""Replace roff escapes in one line with the characters they print.

    Args:
        text: one input line (or a request's argument).
        strings: ``.ds`` strings defined so far (groff's man strings are always known).

    Returns:
        The printed text; a ``\"`` comment ends it, ``\c`` is dropped (the caller joins the
        next line on).

    >>> expand_escapes(r"\fBO_RDONLY\fP, \-1 or \(aqx\[aq] \e0 \*(lqq\*(rq \" note")
    "O_RDONLY, -1 or 'x' \\0 “q” "
    """
    known = {**_STRINGS, **(strings or {})}
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char != "\\" or i + 1 >= n:
            out.append(char)
            i += 1
            continue
        kind = text[i + 1]
        if kind in ('"', "#"):
            break
        if kind in _PRINTS:
            out.append(_PRINTS[kind])
            i += 2
        else:
            printed, i = _escape(kind, text, i + 2, known)
            out.append(printed)
    return "".join(out)


# Escapes that print one fixed string (zero-width ones print nothing; \c's join is the caller's).
_PRINTS: dict[str, str] = {
    "\\": "\\", "e": "\\", "E": "\\", "-": "-", " ": " ", "~": " ", "0": " ", "t": "\t",
    "'": "\u00b4", "`": "`", "c": "", **dict.fromkeys(_SILENT, ""),
}  # fmt: skip
_SKIPPED = set("fnFgkmMVY")  # \fB, \n(xx, ...: a name follows, nothing printed
_DELIMITED = set("whvlLobxZABCDX")  # \w'..', \h'..', ...: a delimited argument follows


def _escape(kind: str, text: str, i: int, known: dict[str, str]) -> tuple[str, int]:
    """What the escape ``\\<kind>`` whose argument starts at ``text[i]`` prints; the next index."""
    if kind in ("(", "["):
        name, i = _bracketed(text, i - 1)
        return GLYPHS.get(name, ""), i
    if kind == "*":
        name, i = _bracketed(text, i)
        return expand_escapes(known.get(name, ""), known), i
    if kind in _SKIPPED:
        if kind == "n" and i < len(text) and text[i] in "+-":
            i += 1
        return "", _bracketed(text, i)[1]
    if kind == "s":  # size: \s-1, \s+2, \s0, \s(12, \s[12]
        i += int(i < len(text) and text[i] in "+-")
        if i < len(text) and text[i] in "([":
            return "", _bracketed(text, i)[1]
        while i < len(text) and text[i].isdigit():
            i += 1
        return "", i
    if kind == "N":
        code, i = _delimited(text, i)
        return (chr(int(code)) if code.isdigit() else ""), i
    if kind in _DELIMITED:
        inner, i = _delimited(text, i)
        return (expand_escapes(inner, known) if kind in ("Z", "o") else ""), i
    return kind, i  # \. \$ and friends print the character itself


_STRING_COMPARE = re.compile(r"^(.)(.*?)\1(.*?)\1(.*)$")


@dataclass
class _Page:
    """The state of one page being read: sections, the paragraph being filled, modes."""

    strings: dict[str, str] = field(default_factory=dict)
    macros: dict[str, list[str]] = field(default_factory=dict)
    sections: dict[str, list[str]] = field(default_factory=dict)
    section: str = ""
    paragraph: list[str] = field(default_factory=list)
    fill: bool = True
    tag_pending: bool = False  # .TP / .TQ: the next output line is the tag, alone on its line
    join_next: bool = False  # the last text ended with \c
    link: str | None = None  # the .UR/.MT address while its link text is read
    last_condition: bool = False  # for .el
    table: list[str] | None = None

    def emit(self, text: str, *, raw: str = "") -> None:
        """Add the text of one input line to the current paragraph."""
        if self.fill and not text.strip() and not self.join_next:
            return  # a line of zero-width escapes (\\&, \\}) prints nothing
        if self.join_next and self.paragraph:
            self.paragraph[-1] += text
        elif self.fill and self.paragraph and not self.tag_pending:
            self.paragraph[-1] += " " + text if self.paragraph[-1] else text
        else:
            self.paragraph.append(text)
        self.join_next = raw.rstrip().endswith("\\c") and not raw.rstrip().endswith("\\\\c")
        if self.tag_pending and not self.join_next:
            self.tag_pending = False
            self.paragraph.append("")

    def line_break(self) -> None:
        if self.paragraph and self.paragraph[-1]:
            self.paragraph.append("")

    def paragraph_break(self) -> None:
        lines = [line.strip() if self.fill else line.rstrip() for line in self.paragraph]
        lines = [line for line in lines if line]
        if lines and self.section:
            self.sections.setdefault(self.section, []).append("\n".join(lines))
        self.paragraph = []
        self.join_next = False


def _condition(text: str, page: _Page) -> tuple[bool, str]:
    """Evaluate an ``.if`` condition as nroff (a terminal) would; return it and the body."""
    text = text.lstrip()
    negate = text.startswith("!")
    if negate:
        text = text[1:]
    result = False
    if text[:1] in ("n", "t", "o", "e") and (len(text) == 1 or text[1] in " \t\\"):
        result, rest = text[0] in ("n", "o"), text[1:]
    elif text.startswith(("\\n(.g", "\\n[.g]")):
        result, rest = True, text[len("\\n(.g") if text.startswith("\\n(.g") else 6 :]
    elif text.startswith("d ") or text.startswith("r "):
        name, _, rest = text[2:].lstrip().partition(" ")
        result = text[0] == "d" and (name in page.strings or name in page.macros)
    elif match := _STRING_COMPARE.match(text):
        left, right = (expand_escapes(match.group(k), page.strings) for k in (2, 3))
        result, rest = left == right, match.group(4)
    else:
        _, _, rest = text.partition(" ")  # a numeric expression: nroff cannot tell; false
    return result != negate, rest.lstrip()


def _process(lines: list[str], page: _Page, depth: int = 0) -> None:  # noqa: C901 - one roff reader loop
    skip = 0  # depth of a false conditional block being skipped
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if skip:
            skip += line.count("\\{") - line.count("\\}")
            continue
        if page.table is not None:
            if re.match(r"^[.']\s*TE\b", line):
                _table(page)
            else:
                page.table.append(line)
            continue
        if line[:1] not in (".", "'"):
            if not line.strip():  # a blank line is a paragraph break in fill mode
                page.paragraph_break() if page.fill else page.paragraph.append("")
                continue
            if page.fill and line[:1] in " \t":
                page.line_break()
            text = expand_escapes(line, page.strings)
            page.emit(text, raw=line)
            continue
        body = _strip_comment(line[1:]).lstrip()
        if body.startswith(('\\"', "\\#")) or not body.strip():
            continue
        name, _, rest = body.partition(" ")
        if "\t" in name:
            name, _, more = name.partition("\t")
            rest = more + " " + rest
        rest = rest.strip()
        if name in ("if", "ie", "el"):
            if name == "el":
                taken = not page.last_condition
            else:
                taken, rest = _condition(rest, page)
                if name == "ie":
                    page.last_condition = taken
            block = rest.startswith("\\{")
            rest = rest.removeprefix("\\{").lstrip()
            if not taken:
                skip = max(1 + rest.count("\\{") - rest.count("\\}"), 0) if block else 0
            elif rest:
                _process([rest], page, depth)
            continue
        if body.startswith("\\}"):
            continue
        if name == "de":
            macro = split_arguments(rest)[0] if rest else ""
            definition: list[str] = []
            while index < len(lines) and lines[index].strip() != "..":
                definition.append(lines[index])
                index += 1
            index += 1
            page.macros[macro] = definition
            continue
        if name == "ds":
            key, _, value = rest.partition(" ")
            page.strings[key] = value.removeprefix('"')
            continue
        if name in page.macros:
            if depth < _MAX_MACRO_DEPTH:
                _process(_substitute(page.macros[name], split_arguments(rest)), page, depth + 1)
            continue
        _request(name, rest, page)


def _strip_comment(text: str) -> str:
    r"""``text`` up to an unescaped ``\"`` comment (``\\"`` is a backslash and a quote)."""
    i = 0
    while (i := text.find("\\", i)) >= 0:
        if text[i + 1 : i + 2] in ('"', "#"):
            return text[:i].rstrip(" \t")
        i += 2
    return text


def _substitute(definition: list[str], args: list[str]) -> list[str]:
    r"""A user macro's body with ``\$1``.. replaced by its arguments, read in copy mode."""

    def arg(match: re.Match[str]) -> str:
        which = match.group(1)
        if which in ("*", "@"):
            return " ".join(args)
        position = int(which) - 1
        return args[position] if position < len(args) else ""

    expanded = [re.sub(r"\\\\\$([1-9*@])", arg, line) for line in definition]
    return [line.replace("\\\\", "\\") for line in expanded]


def _request(name: str, rest: str, page: _Page) -> None:  # noqa: C901 - one branch per macro
    """Carry out one ``man`` macro or roff request (``name`` without the dot)."""
    args = split_arguments(rest)
    expand = page.strings

    def text_of(parts: list[str], sep: str) -> str:
        return sep.join(expand_escapes(part, expand) for part in parts)

    if name in ("SH", "SS"):
        page.paragraph_break()
        page.fill = True
        heading = text_of(args, " ").strip()
        if name == "SH":
            page.section = heading.upper()
            page.sections.setdefault(page.section, [])
        elif heading:
            page.emit(heading)
            page.paragraph_break()
    elif name in _FONT_JOIN:
        if args:
            page.emit(text_of(args, ""), raw=rest)
    elif name in _FONT_SPACE:
        if args:
            page.emit(text_of(args, " "), raw=rest)
    elif name in _BREAK:
        page.paragraph_break()
    elif name == "br":
        page.line_break()
    elif name in ("TP", "TQ"):
        if name == "TP":
            page.paragraph_break()
        else:
            page.line_break()
        page.tag_pending = True
    elif name == "IP":
        page.paragraph_break()
        if args and (tag := expand_escapes(args[0], expand).strip()):
            page.emit(tag)
            page.join_next = False
    elif name in ("nf", "EX"):
        page.paragraph_break()
        page.fill = False
    elif name in ("fi", "EE"):
        page.paragraph_break()
        page.fill = True
    elif name in ("UR", "MT"):
        page.link = args[0] if args else ""
    elif name in ("UE", "ME"):
        if page.link:  # after its text, as man shows it on a terminal
            page.emit(f"<{page.link}>")
        page.link = None
        if args:
            page.join_next = True
            page.emit(text_of(args, " "))
    elif name == "SY":
        page.paragraph_break()
        page.emit(text_of(args, " "))
    elif name == "OP":
        page.emit("[" + text_of(args, " ") + "]")
    elif name == "TS":
        page.paragraph_break()
        page.table = []
    # everything else (layout, fonts, sizes, unknown requests) prints nothing


def _table(page: _Page) -> None:  # noqa: C901 - tbl's row grammar
    """Write a tbl table read so far as lines: one per row, cells joined by spaces."""
    rows = page.table or []
    page.table = None
    tab = "\t"
    i = 0
    if rows and rows[0].rstrip().endswith(";"):
        if match := re.search(r"tab\s*\((.)\)", rows[0]):
            tab = match.group(1)
        i = 1
    i = _past_format(rows, i)
    lines: list[str] = []
    cells: list[str] = []
    pending: str | None = None  # what follows a T} on its line: the rest of the row
    while pending is not None or i < len(rows):
        if pending is None:
            line = rows[i]
            i += 1
            if line.startswith(".T&"):
                i = _past_format(rows, i)
                continue
            if line.strip() in ("_", "=") or line[:1] in (".", "'"):
                continue
        else:
            line, pending = pending, None
        parts = line.split(tab)
        for position, part in enumerate(parts):
            if position == len(parts) - 1 and part.strip() == "T{":
                block: list[str] = []
                while i < len(rows) and not rows[i].startswith("T}"):
                    block.append(rows[i])
                    i += 1
                end = rows[i][2:] if i < len(rows) else ""
                i += 1
                cells.append(_block_text(block, page))
                if end.strip():
                    pending = end[len(tab) :] if end.startswith(tab) else end
            else:
                cells.append(expand_escapes(part, page.strings).strip())
        if pending is None:
            lines.append(" ".join(c for c in cells if c and c not in ("_", "=")))
            cells = []
    saved = page.fill
    page.fill = False
    for line in lines:
        if line:
            page.emit(line)
    page.paragraph_break()
    page.fill = saved


def _past_format(rows: list[str], i: int) -> int:
    """The index after the format lines starting at ``i`` (the last one ends with a dot)."""
    while i < len(rows) and not rows[i].rstrip().endswith("."):
        i += 1
    return i + 1


def _block_text(block: list[str], page: _Page) -> str:
    """The text of a table cell's ``T{`` .. ``T}`` block (roff input, requests included)."""
    cell = _Page(strings=page.strings, macros=page.macros, section="cell")
    _process(block, cell)
    cell.paragraph_break()
    return " ".join(" ".join(p.split("\n")) for p in cell.sections.get("cell", []))


def _join_continuations(source: str) -> list[str]:
    """Input lines, with a line ending in an unescaped backslash joined to the next."""
    lines: list[str] = []
    pending = ""
    for line in source.replace("\r\n", "\n").split("\n"):
        trailing = len(line) - len(line.rstrip("\\"))
        if trailing % 2 == 1:
            pending += line[:-1]
            continue
        lines.append(pending + line)
        pending = ""
    if pending:
        lines.append(pending)
    return lines


def roff_sections(source: str) -> dict[str, str]:
    """The plain text of every ``.SH`` section of a man page.

    Args:
        source: the page's roff source (decompressed, decoded).

    Returns:
        Section name (upper case, as in ``.SH``) to its text: paragraphs separated by a blank
        line, in page order. Text before the first ``.SH`` is dropped.
    """
    page = _Page()
    _process(_join_continuations(source), page)
    if page.table is not None:
        _table(page)
    page.paragraph_break()
    return {name: "\n\n".join(paragraphs) for name, paragraphs in page.sections.items()}
