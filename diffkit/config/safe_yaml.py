"""YAML for configs: PyYAML's safe loader, refusing duplicate keys and bounding aliases.

A duplicate key silently keeps the last value in plain PyYAML; here it is an error
naming the key and its line. Aliases are shared references while loading, but every
consumer (OmegaConf, json) expands them: a "billion laughs" file of a few lines would
expand to 10^9 values and hang. The expanded size is counted, stopping at a bound.
"""

from __future__ import annotations

from typing import Any

import yaml

#: values (mapping entries and list items) an expanded config may hold.
MAX_VALUES = 100_000


class DuplicateKeyError(yaml.MarkedYAMLError):
    """A mapping sets one key twice; the mark is the second occurrence."""


class _Loader(yaml.SafeLoader):
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *base` keys may be overridden by explicit ones
            key = self.construct_object(key_node, deep=deep)
            try:
                first = seen.get(key)
            except TypeError:
                continue  # an unhashable key: the base class reports it
            if first is not None:
                raise DuplicateKeyError(
                    None, None, f"duplicate key {key!r} (first set on line {first})", key_node.start_mark
                )
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


class TooLargeError(ValueError):
    """A document whose aliases expand past `MAX_VALUES` values."""


def load(text: str) -> Any:
    """`text` as YAML; raises yaml.MarkedYAMLError (duplicate keys too) or TooLargeError."""
    data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    count_values(data)
    return data


def count_values(data: Any, limit: int = MAX_VALUES) -> int:
    """The number of values in `data` with aliases expanded; TooLargeError past `limit`."""
    count, stack = 0, [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            children = [*item.keys(), *item.values()]
        elif isinstance(item, list):
            children = item
        else:
            continue
        count += len(children)
        if count > limit:
            raise TooLargeError(f"expands to more than {limit} values (nested aliases, a 'billion laughs' file?)")
        stack.extend(children)
    return count
