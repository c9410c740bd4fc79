"""Line numbers in a YAML document, by path: what error messages about a file point at."""

from __future__ import annotations

import yaml


def line_index(text: str) -> dict[tuple, int]:
    """Map paths like ``('schema', 0, 'properties', 3)`` to 1-based line numbers.

    A mapping key's path gets the key's own line (``properties:``, not the first line of what
    it holds), a list item's path the line it starts on. Text that is not YAML gives ``{}``:
    the parser's own error says where it broke.
    """
    index: dict[tuple, int] = {}

    def walk(node: yaml.Node, path: tuple) -> None:
        index.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                index[(*path, key.value)] = key.start_mark.line + 1
                walk(value, (*path, key.value))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, (*path, i))

    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return index
    if root is not None:
        walk(root, ())
    return index
