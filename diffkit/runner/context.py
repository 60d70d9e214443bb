"""Kept for plugins written against plugin API 1.0: ``RunContext`` lives in ``diffkit.interfaces.run``."""

from diffkit.interfaces.run import RunContext

__all__ = ["RunContext"]
