"""Command-line options generated from a dataclass, so each setting is written once.

Every field becomes an option named after it (``grad_accum`` -> ``--grad-accum``) whose help is
``field.metadata["help"]``, with ``metavar``, ``choices`` and ``group`` (a section of ``--help``)
from the same metadata. Types come from the annotations:

- a field without a default: a positional argument;
- ``bool``: a switch (``--x``; ``--x/--no-x`` when the default is True);
- ``tuple[str, ...]``: repeatable, and ``a,b`` gives two items;
- ``X | None``: a value of type X, None when the option is not given;
- ``metadata["help"] is None``: not on the command line (Python only).

>>> from dataclasses import dataclass, field
>>> @dataclass
... class Demo:
...     steps: int = field(default=1, metadata={"help": "steps to run"})
>>> parser = argparse.ArgumentParser()
>>> add_dataclass_options(parser, Demo)
>>> dataclass_from_args(Demo, parser.parse_args(["--steps", "3"]))
Demo(steps=3)
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

__all__ = ["add_dataclass_options", "dataclass_from_args"]

T = TypeVar("T")


class _Items(argparse.Action):
    """Repeatable, and commas separate items: ``--x a b``, ``--x a,b`` and ``--x a --x b``."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        items = tuple(getattr(namespace, self.dest) or ())
        items += tuple(
            part.strip() for value in values for part in value.split(",") if part.strip()
        )
        setattr(namespace, self.dest, items)


def _without_none(annotation: Any) -> Any:
    """``X | None`` -> X; anything else unchanged."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        rest = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return annotation


def _help(text: str, default: Any) -> str:
    shown = not (default is None or default is False or default == ()) and "default" not in text
    return f"{text} (default: {default})" if shown else text


def add_dataclass_options(
    parser: argparse.ArgumentParser,
    cls: type,
    *,
    flags: Mapping[str, Sequence[str]] | None = None,
) -> None:
    """Add an option for each field of the dataclass ``cls`` that ``parser`` does not have yet.

    Args:
        parser: where to add them; fields whose name is already an option's destination (shared
            options added before) are left to that option.
        cls: the dataclass; every field needs ``metadata["help"]``.
        flags: option strings to use instead of ``--field-name``, by field name.

    Raises:
        TypeError: a field has no help, or a type this generator does not know.
    """
    taken = {action.dest for action in parser._actions}
    hints = typing.get_type_hints(cls)
    groups: dict[str | None, Any] = {None: parser}
    for item in dataclasses.fields(cls):
        if "help" not in item.metadata:
            raise TypeError(f"{cls.__name__}.{item.name}: no metadata['help'] for the command line")
        if item.metadata["help"] is None or item.name in taken:
            continue
        title = item.metadata.get("group")
        if title not in groups:
            groups[title] = parser.add_argument_group(title)
        target = groups[title]
        kind = _without_none(hints[item.name])
        extra = {k: item.metadata[k] for k in ("metavar", "choices") if k in item.metadata}
        if item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING:
            target.add_argument(item.name, type=kind, help=item.metadata["help"], **extra)
            continue
        default = item.default if item.default is not dataclasses.MISSING else None
        names = (flags or {}).get(item.name, ("--" + item.name.replace("_", "-"),))
        if kind is bool:
            action: Any = argparse.BooleanOptionalAction if default else "store_true"
            extra["action"] = action
        elif typing.get_origin(kind) is tuple:
            extra.update(action=_Items, nargs="+")
        elif kind in (int, float, str):
            extra["type"] = kind
        else:
            raise TypeError(f"{cls.__name__}.{item.name}: no option for type {kind}")
        target.add_argument(
            *names,
            dest=item.name,
            default=default,
            help=_help(item.metadata["help"], default),
            **extra,
        )


def dataclass_from_args(cls: type[T], args: argparse.Namespace, **more: Any) -> T:
    """An instance of ``cls`` from the parsed options named after its fields, plus ``more``."""
    values = {
        item.name: getattr(args, item.name)
        for item in dataclasses.fields(cls)  # type: ignore[arg-type]
        if hasattr(args, item.name)
    }
    return cls(**values, **more)
