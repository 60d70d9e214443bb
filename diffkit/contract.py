"""A component kind's contract as Markdown: the base class, what a subclass implements,
what the runner passes to its constructor, and the base's public methods. Printed by
``diffkit plugins --api KIND`` and written into docs/reference/plugin-api.md, so the
contract reads the same in a terminal, in the repository and on the site."""

from __future__ import annotations

import inspect
from dataclasses import dataclass

from diffkit.interfaces import KINDS, ContinuousProcess, Scheduler


@dataclass(frozen=True)
class Route:
    """One way to write a component of a kind: subclass `base` and implement `implements`."""

    base: type
    implements: tuple[str, ...]
    note: str = ""


#: methods a subclass should implement although the base has a default that refuses
#: (ContinuousProcess.alpha_sigma_derivative: the velocity target needs it).
EXPECTED_OVERRIDES: dict[type, tuple[str, ...]] = {ContinuousProcess: ("alpha_sigma_derivative",)}


def abstract(base: type) -> tuple[str, ...]:
    """The abstract methods of `base` plus its EXPECTED_OVERRIDES, in source order."""
    names = set(getattr(base, "__abstractmethods__", ())) | set(EXPECTED_OVERRIDES.get(base, ()))
    order = [n for klass in reversed(base.__mro__) for n in vars(klass)]
    return tuple(sorted(names, key=lambda n: len(order) - 1 - order[::-1].index(n)))


def routes(kind: str) -> list[Route]:
    """The ways to write a component of `kind`; a scheduler has two (discrete, continuous)."""
    if kind == "scheduler":
        return [
            Route(Scheduler, ("__init__",), "compute the betas and call `super().__init__(betas, ...)`"),
            Route(ContinuousProcess, abstract(ContinuousProcess), "set `t_min`, `t_max` if t is not in [0, 1]"),
        ]
    return [Route(KINDS[kind], abstract(KINDS[kind]))]


def public_name(cls: type) -> str:
    return f"diffkit.{cls.__name__}"


def implements_cell(kind: str) -> str:
    """One line: what a subclass implements, per route."""
    parts = []
    for r in routes(kind):
        methods = ", ".join(f"`{m}`" for m in r.implements)
        parts.append(f"{methods} (`{public_name(r.base)}`)" if kind == "scheduler" else methods)
    return "; or ".join(parts)


def injected_cell(base: type) -> str:
    required = [f"`{n}`" for n in getattr(base, "injected", ())]
    optional = [f"`{n}` (if accepted)" for n in getattr(base, "optional_injected", ())]
    return ", ".join(required + optional) or "-"


def first_paragraph(obj: object) -> str:
    doc = inspect.getdoc(obj) or ""
    return " ".join(doc.split("\n\n", 1)[0].split())


def signature(cls: type, name: str) -> str:
    """``name(a, b=1, *, c=None)``: the parameters without annotations or ``self``."""
    try:
        sig = inspect.signature(getattr(cls, name))
    except (TypeError, ValueError):
        return name
    params = [p.replace(annotation=p.empty) for p in sig.parameters.values() if p.name != "self"]
    return name + str(sig.replace(parameters=params, return_annotation=inspect.Signature.empty))


def attributes(cls: type) -> dict[str, object]:
    """Public class attributes a subclass may set (annotated in a diffkit base) -> default."""
    found: dict[str, object] = {}
    for klass in reversed(cls.__mro__):
        if klass.__module__.startswith("diffkit."):
            for name in vars(klass).get("__annotations__", {}):
                if not name.startswith("_") and name in vars(klass):
                    found[name] = getattr(cls, name)
    return found


def methods(cls: type) -> dict[str, str]:
    """Public methods that `cls` or its diffkit bases define, in source order -> the first
    paragraph of the docstring of the latest definition that has one (not torch's)."""
    found: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not klass.__module__.startswith("diffkit."):
            continue
        for name, value in vars(klass).items():
            if name.startswith("_") and name != "__init__":
                continue
            func = value.__func__ if isinstance(value, (staticmethod, classmethod)) else value
            if callable(func):
                doc = " ".join((func.__doc__ or "").strip().split("\n\n", 1)[0].split()) if name != "__init__" else ""
                found[name] = doc or found.get(name, "")
    return found


def contract(kind: str) -> str:
    """The contract of `kind` as Markdown (plain enough to read in a terminal)."""
    if kind not in KINDS:
        raise KeyError(kind)
    base = KINDS[kind]
    lines = [f"### `{kind}`: `{public_name(base)}`", "", first_paragraph(base), ""]
    for r in routes(kind):
        head = f"- subclass `{public_name(r.base)}` and implement " + ", ".join(f"`{m}`" for m in r.implements)
        lines.append(head + (f"; {r.note}" if r.note else ""))
    lines.append(f"- the runner passes to the constructor: {injected_cell(base)}")
    lines.append("- every other constructor parameter needs a default: it is a config key")
    for r in routes(kind):
        lines += ["", f"`{public_name(r.base)}` (implement the marked methods):", ""]
        settable = attributes(r.base)
        if settable:
            lines.append("- class attributes: " + ", ".join(f"`{n} = {v!r}`" for n, v in settable.items()))
        for name, doc in methods(r.base).items():
            mark = " **(implement)**" if name in r.implements else ""
            lines.append(f"- `{signature(r.base, name)}`{mark}" + (f": {doc}" if doc else ""))
    return "\n".join(lines) + "\n"


def hooks() -> str:
    """Every lifecycle hook as Markdown: its signature and the first paragraph of its spec."""
    from diffkit import hookspecs

    lines = [
        "### Hooks",
        "",
        "Implement any of them in a plugin module, marked with `diffkit.hookimpl`; "
        "an implementation may take any subset of the arguments.",
        "",
    ]
    for name, func in vars(hookspecs).items():
        if name.startswith("diffkit_") and callable(func):
            params = ", ".join(inspect.signature(func).parameters)
            lines.append(f"- `{name}({params})`: {first_paragraph(func)}")
    return "\n".join(lines) + "\n"
