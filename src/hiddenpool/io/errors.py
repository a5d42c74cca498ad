"""The one error every reader raises for bad input: where it is, and what was expected."""

from __future__ import annotations

__all__ = ["InputError"]


class InputError(ValueError):
    """A problem with an input file, located as a user would find it.

    The message is ``FILE: row R (line L), column 'C': PROBLEM``, each part present when known:

    - ``row`` counts data rows from 1, the header not counted (row 1 of a .csv is its second line;
      blank .jsonl lines are not rows);
    - ``line`` is the line of the file, from 1 (for .txt, .csv, .tsv, .jsonl and stdin);
    - ``column`` is the column or JSON key.

    A ``ValueError``, so the command line prints it as one line and exits with status 2.

    >>> str(InputError("reviews.csv", "expected a string, got null", row=3, line=4, column="text"))
    "reviews.csv: row 3 (line 4), column 'text': expected a string, got null"
    """

    def __init__(
        self,
        file: str,
        problem: str,
        *,
        row: int | None = None,
        line: int | None = None,
        column: str | None = None,
    ) -> None:
        self.file = file
        self.problem = problem
        self.row = row
        self.line = line
        self.column = column
        where = []
        if row is not None:
            where.append(f"row {row}" + (f" (line {line})" if line is not None else ""))
        elif line is not None:
            where.append(f"line {line}")
        if column is not None:
            where.append(f"column {column!r}")
        super().__init__(": ".join([file, ", ".join(where), problem] if where else [file, problem]))
