"""YAML from outside, loaded with bounds, and the line a YAML path stands on.

Contracts and eval cases arrive in pull requests, so their YAML is untrusted. PyYAML shares
an aliased node instead of copying it, but everything that walks the document afterwards
(JSON schema validation, a JSON round trip, the line index) sees it expanded: a 5 KB
"billion laughs" file of nested anchors becomes 10^9 nodes. :func:`load_bounded` refuses a
file larger than :data:`MAX_YAML_BYTES`, more than :data:`MAX_ALIASES` alias uses, a
recursive alias, or a document that would expand to more than :data:`MAX_EXPANDED_NODES`
nodes, before anything is built from it (counting shares the work between repeated nodes,
so the count itself is linear in the file).
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_YAML_BYTES = 16 * 1024 * 1024
MAX_ALIASES = 1_000
MAX_EXPANDED_NODES = 2_000_000
# libyaml's C parser when PyYAML was built with it: a 100,000-value enum parses in a second.
_Loader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlLimitError(ValueError):
    """A YAML text over one of the bounds; the message says which and what to do."""


def _check_expansion(root: yaml.Node) -> None:
    """Refuse recursive aliases, too many aliases, and documents that expand too far."""
    sizes: dict[int, int] = {}
    aliases = 0
    in_progress: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            in_progress.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in _children(node))
            if sizes[key] > MAX_EXPANDED_NODES:
                raise YamlLimitError(
                    f"the YAML expands to more than {MAX_EXPANDED_NODES:,} nodes through its "
                    f"aliases (&anchor / *alias): write the values out, without aliases"
                )
            continue
        if key in sizes:
            aliases += 1
        elif key in in_progress:
            raise YamlLimitError(
                f"a recursive YAML alias at line {node.start_mark.line + 1}: an anchor "
                f"cannot contain itself"
            )
        else:
            in_progress.add(key)
            stack.append((node, True))
            stack.extend((child, False) for child in reversed(_children(node)))
            continue
        if aliases > MAX_ALIASES:
            raise YamlLimitError(
                f"the YAML uses more than {MAX_ALIASES:,} aliases (*alias): write the values "
                f"out, without aliases"
            )


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def compose_bounded(text: str) -> yaml.Node | None:
    """The YAML node tree of ``text`` (None for an empty document), within the bounds.

    Raises:
        YamlLimitError: the text is too large or its aliases expand too far.
        yaml.YAMLError: the text is not YAML.
    """
    size = len(text.encode("utf-8", errors="surrogatepass"))
    if size > MAX_YAML_BYTES:
        raise YamlLimitError(
            f"the file is {size:,} bytes; YAML files are read up to {MAX_YAML_BYTES:,} bytes"
        )
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
    finally:
        loader.dispose()
    if root is not None:
        _check_expansion(root)
    return root


def load_bounded(text: str) -> tuple[Any, dict[tuple, int]]:
    """The document in ``text`` and its line index (see :func:`line_index`), within the
    bounds of :func:`compose_bounded` (whose errors it raises)."""
    root = compose_bounded(text)
    if root is None:
        return None, {}
    constructor = yaml.SafeLoader("")
    try:
        document = constructor.construct_document(root)
    finally:
        constructor.dispose()
    return document, _index(root)


def _index(root: yaml.Node) -> dict[tuple, int]:
    index: dict[tuple, int] = {}
    stack: list[tuple[yaml.Node, tuple]] = [(root, ())]
    while stack:
        node, path = stack.pop()
        index.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                index[(*path, key.value)] = key.start_mark.line + 1
                stack.append((value, (*path, key.value)))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, (*path, i)) for i, item in enumerate(node.value))
    return index


def line_index(text: str) -> dict[tuple, int]:
    """Map paths like ``('schema', 0, 'properties', 3)`` to 1-based line numbers.

    A mapping key's path gets the key's own line (``properties:``, not the first line of what
    it holds), a list item's path the line it starts on. Text that is not YAML, or over the
    bounds of :func:`compose_bounded`, gives ``{}``: the loader's own error says where it broke.
    """
    try:
        root = compose_bounded(text)
    except (yaml.YAMLError, YamlLimitError):
        return {}
    return {} if root is None else _index(root)
