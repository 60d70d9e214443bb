"""Checks of a plugin module before it is registered: its declared plugin-API
version, hooks that do not exist (typos) and hook wrappers (which diffkit does not call)."""

from __future__ import annotations

from types import ModuleType

import pluggy

from diffkit import hookspecs
from diffkit.errors import closest

#: 1.1: the scheduler kind's base is NoiseProcess (continuous processes via ContinuousProcess);
#: plugins declaring 1.0 (discrete Scheduler subclasses built from betas) keep working.
#: 1.2: a sampler implements Sampler.update (one step); the base owns the grid, the prior
#: scale and clip_sample. Samplers that override sample (1.0, 1.1) keep working.
PLUGIN_API_VERSION = "1.2"


def unknown_hooks(pm: pluggy.PluginManager, module: ModuleType) -> str:
    """Why `module` implements hooks that diffkit does not define (typos), or ""."""
    known = sorted(n for n in vars(hookspecs) if n.startswith("diffkit_"))
    bad = [
        caller.name
        for caller in pm.get_hookcallers(module) or []
        if not caller.has_spec() and any(i.plugin is module and not i.optionalhook for i in caller.get_hookimpls())
    ]
    if not bad:
        return ""
    hints = "; ".join(f"{b}: {closest(b, known) or 'no similar hook'}" for b in bad)
    return f"implements unknown hook(s) {', '.join(bad)} ({hints}); hooks: {', '.join(known)}"


def wrappers(pm: pluggy.PluginManager, module: ModuleType) -> str:
    """Why `module` cannot be used: hook wrappers, which diffkit does not call; or ""."""
    bad = [
        caller.name
        for caller in pm.get_hookcallers(module) or []
        if any(i.plugin is module and (i.hookwrapper or i.wrapper) for i in caller.get_hookimpls())
    ]
    return f"hook wrappers are not supported ({', '.join(bad)}); implement the hook plainly" if bad else ""


def check_api_version(module: ModuleType) -> str:
    """Why `module`'s declared ``DIFFKIT_PLUGIN_API`` is incompatible, or ""."""
    declared = getattr(module, "DIFFKIT_PLUGIN_API", None)
    if declared is None:
        return ""
    ours = _parse_version(PLUGIN_API_VERSION)
    try:
        theirs = _parse_version(str(declared))
    except ValueError:
        return f"DIFFKIT_PLUGIN_API = {declared!r} is not a version like '1' or '1.0'"
    if theirs[0] == ours[0] and theirs[1] <= ours[1]:
        return ""
    accepted = f"{ours[0]}.0" + (f" to {ours[0]}.{ours[1]}" if ours[1] else "")
    return (
        f"needs diffkit plugin API {declared}, but this diffkit provides plugin API {PLUGIN_API_VERSION} "
        f"and accepts plugins declaring {accepted}; install a diffkit that provides {theirs[0]}.{theirs[1]} "
        f"or a release of the plugin written for {PLUGIN_API_VERSION}"
    )


def _parse_version(text: str) -> tuple[int, int]:
    parts = text.strip().split(".")
    if not 1 <= len(parts) <= 2 or not all(p.isdigit() for p in parts):
        raise ValueError(text)
    return int(parts[0]), int(parts[1]) if len(parts) == 2 else 0
