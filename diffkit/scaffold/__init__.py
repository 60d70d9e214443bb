"""Writing a new, ready-to-install plugin package (``diffkit new-plugin``)."""

from __future__ import annotations

import keyword
import os
import re
import shutil
import tempfile
from pathlib import Path
from string import Template

from diffkit.atomic import umask
from diffkit.errors import ConfigError
from diffkit.scaffold.templates import FILES

#: a valid distribution name (PEP 508) that starts with a letter: no '-' or '_' at its end.
_NAME = re.compile(r"[A-Za-z]([A-Za-z0-9_-]*[A-Za-z0-9])?\Z")


def plugin_names(name: str) -> dict[str, str]:
    """NAME -> {dist, package, component, cls}: ``my-loss`` -> my-loss, my_loss, my_loss, MyLossLoss."""
    if not _NAME.match(name):
        raise ConfigError(
            f"plugin name {name!r} is not allowed: use letters, digits, '-' and '_', starting with a letter "
            "and ending with a letter or digit"
        )
    package = name.lower().replace("-", "_")
    if keyword.iskeyword(package) or package == "diffkit":
        what = "a Python keyword" if package != "diffkit" else "diffkit's own package"
        raise ConfigError(
            f"plugin name {name!r} is not allowed: its package {package!r} would be {what}, "
            "which cannot be imported; pick another NAME"
        )
    cls = "".join(part.capitalize() for part in package.split("_") if part) + "Loss"
    return {"dist": name.lower().replace("_", "-"), "package": package, "component": package, "cls": cls}


def write_plugin(directory: Path, values: dict[str, str]) -> Path:
    """Write the package into the new directory `directory` (refusing an existing one).

    The files are written into a temporary sibling first and renamed at the end, so
    `directory` never exists half-written.
    """
    directory = Path(directory)
    if directory.exists():
        raise ConfigError(f"{directory} already exists; not overwriting it (pick another NAME or --dir)")
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        os.chmod(tmp, 0o777 & ~umask())  # mkdtemp makes 0700
        for rel, text in FILES.items():
            path = tmp / Template(rel).substitute(values)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(Template(text).substitute(values))
        os.rename(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory
