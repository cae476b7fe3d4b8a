"""A catalog edited in the table editor, written into its YAML text so the analysts' comments stay.

The table editor sends the whole catalog as data. Dumping that data afresh would
drop every comment of the file (the legal basis of a time limit, why a material
may be missing) and reorder its styles. Instead the new values are merged into
the text as parsed with its comments (ruamel.yaml's round-trip mode): mappings
by key, lists of items with a ``code`` by code, other lists by position, equal
values left as written. The result must load to exactly the data sent; when it
does not, or the old text is not a mapping, the data is written afresh.
"""
from __future__ import annotations

import io
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError as RoundTripError


def plain_yaml(data: Any) -> str:
    """A catalog (as parsed) written as YAML, keys in their order, Chinese as is."""
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, default_flow_style=None, width=120)


def _round_trip() -> YAML:
    rt = YAML()  # round-trip: keeps comments, key order, flow style and quoting
    rt.preserve_quotes = True
    rt.width = 4096  # never wrap a line the analyst wrote on one
    rt.indent(mapping=2, sequence=4, offset=2)
    return rt


def _keyed(items: list) -> dict | None:
    """{code: item} when every item is a mapping with a distinct code, else None."""
    codes = [item.get("code") if isinstance(item, dict) else None for item in items]
    if None in codes or len(set(codes)) != len(codes):
        return None
    return dict(zip(codes, items))


def _merge_list(old: CommentedSeq, new: list) -> CommentedSeq:
    old_items = list(old)
    old_by_code, new_by_code = _keyed(old_items), _keyed(new)
    if old_by_code is not None and new_by_code is not None:
        merged = [_merge(old_by_code[code], item) if code in old_by_code else item for code, item in new_by_code.items()]
    else:
        merged = [_merge(old_items[i], item) if i < len(old_items) else item for i, item in enumerate(new)]
    # an item's comment is kept by its position: move it with the item
    comments = {id(old_items[j]): comment for j, comment in old.ca.items.items() if j < len(old_items)}
    list.clear(old)  # the list's own methods: ruamel's would shift the comments as it goes
    list.extend(old, merged)
    old.ca.items.clear()
    for i, item in enumerate(merged):
        if id(item) in comments:
            old.ca.items[i] = comments[id(item)]
    return old


def _merge(old: Any, new: Any) -> Any:
    if isinstance(old, CommentedMap) and isinstance(new, dict):
        for key in [k for k in old if k not in new]:
            del old[key]
        for key, value in new.items():
            old[key] = _merge(old[key], value) if key in old else value
        return old
    if isinstance(old, CommentedSeq) and isinstance(new, list):
        return _merge_list(old, new)
    if type(old) is not bool and type(new) is not bool and old == new:
        return old  # as written (its quotes, its number format)
    return new


def merged_yaml(old_text: str | None, data: Any) -> str:
    """``data`` as YAML, written into ``old_text`` so that its comments and layout stay where they can."""
    if not old_text or not old_text.strip() or not isinstance(data, dict):
        return plain_yaml(data)
    rt = _round_trip()
    try:
        doc = rt.load(old_text)
    except RoundTripError:
        return plain_yaml(data)
    if not isinstance(doc, CommentedMap):
        return plain_yaml(data)
    out = io.StringIO()
    rt.dump(_merge(doc, data), out)
    text = out.getvalue()
    try:
        if yaml.safe_load(text) == data:
            return text
    except yaml.YAMLError:
        pass
    return plain_yaml(data)
