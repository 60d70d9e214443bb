"""Config values checked against a component constructor's annotations, so that a
wrong type is a one-line ConfigError at build time, not a TypeError deep in torch.

Checked: ``int``, ``float`` (ints allowed), ``bool``, ``str``, sequences of those
(``Sequence[int]``, ``list[float]``, ``tuple[int, ...]``), `FiniteFloat` and
`PositiveFloat` (no inf or nan: a noise level of inf makes a grid of nan) and
``X | None``. Other annotations (modules, callables, ``Any``) are the constructor's to check.
"""

from __future__ import annotations

import collections.abc
import inspect
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from diffkit.errors import ConfigError

_WORDS = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


@dataclass(frozen=True)
class Bounded:
    """A float constraint for ``Annotated[float, Bounded(...)]``: finite, and > 0 if `positive`."""

    words: str
    positive: bool = False

    def accepts(self, value: Any) -> bool:
        return (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and math.isfinite(value)
            and (not self.positive or value > 0)
        )


#: a float that is not inf or nan (``density_loc: FiniteFloat = 0.0``).
FiniteFloat = Annotated[float, Bounded("a finite number")]
#: a finite float > 0 (``sigma_data: PositiveFloat = 0.5``).
PositiveFloat = Annotated[float, Bounded("a finite number > 0", positive=True)]


def _bound(annotation: Any) -> Bounded | None:
    if typing.get_origin(annotation) is Annotated:
        return next((m for m in annotation.__metadata__ if isinstance(m, Bounded)), None)
    return None


_SEQUENCES = (list, tuple, collections.abc.Sequence)


def check_params(where: str, cls: type, params: Mapping[str, Any]) -> None:
    """Raise ConfigError for the first ``params`` value that `cls`'s constructor annotation rejects."""
    for key, value in params.items():
        annotation = _annotation(cls, key)
        words = _describe(annotation)
        if words and not _fits(value, annotation):
            raise ConfigError(f"{where}.{key}={value!r} is not allowed; use {words}")


def _annotation(cls: type, key: str) -> Any:
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        try:
            param = inspect.signature(init, eval_str=True).parameters.get(key)
        except (NameError, TypeError, SyntaxError):  # annotations that only a type checker resolves
            return None
        if param is not None:
            return None if param.annotation is param.empty else param.annotation
    return None


def _parts(annotation: Any) -> tuple[bool, list[Any]]:
    """(None allowed, the other members) of a union; a plain annotation is its own member."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        return type(None) in args, [a for a in args if a is not type(None)]
    return False, [annotation]


def _element(annotation: Any) -> Any:
    """The element type of a checked sequence annotation, else None."""
    if typing.get_origin(annotation) in _SEQUENCES:
        args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        if len(set(args)) == 1 and args[0] in _WORDS:
            return args[0]
    return None


def _describe(annotation: Any) -> str:
    optional, members = _parts(annotation)
    if len(members) != 1:
        return ""
    member = members[0]
    bound = _bound(member)
    words = bound.words if bound is not None else _WORDS.get(member, "")
    element = _element(member)
    if element is not None:
        words = f"a list of {_WORDS[element].split(' ', 1)[-1]}s".replace("true or falses", "booleans")
    if words and optional:
        words = f"null or {words}"
    return words


def _fits_scalar(value: Any, kind: type) -> bool:
    if kind is bool:
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind is float:
        return isinstance(value, (int, float))
    return isinstance(value, kind)


def _fits(value: Any, annotation: Any) -> bool:
    optional, (member,) = _parts(annotation)
    if value is None:
        return optional
    bound = _bound(member)
    if bound is not None:
        return bound.accepts(value)
    element = _element(member)
    if element is not None:
        return isinstance(value, (list, tuple)) and all(_fits_scalar(v, element) for v in value)
    return _fits_scalar(value, member)
