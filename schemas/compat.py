"""Is a payload schema backward compatible with the released one it replaces?

Backward compatible means: every message the released schema accepts, the new one accepts too,
and means the same thing. A consumer built on the new model then still reads everything already
on the topics. The rules (schemas/COMPATIBILITY.md) as checks on two JSON Schemas, the frozen
`old` and the current `new`, each as pydantic writes them (local `$ref`s into `$defs`):

- no removed or renamed property (a rename is a removal plus an addition);
- no new required property, and no property losing its default;
- no narrowed type: every type / `anyOf` branch of the old one is still accepted;
- no narrowed range: minimum / exclusiveMinimum / minLength / minItems may only go down,
  maximum / exclusiveMaximum / maxLength / maxItems only up; a pattern, format or const may
  only be dropped, never added or changed (whether one regex accepts all another accepts is
  not decidable here, so any change counts as narrowing);
- enums only grow;
- additionalProperties may only open, never close.

Descriptions and titles are documentation: they may change freely. The check is deliberately
conservative: something it cannot prove compatible is reported, and the fix is a new version.
"""

from typing import Any

Schema = dict[str, Any]

# Lower bounds may only go down, upper bounds only up.
LOWER = ("minLength", "minItems", "minProperties")
UPPER = ("maxLength", "maxItems", "maxProperties")
# A numeric bound is the tighter of its inclusive and exclusive keyword.
NUMERIC = (("minimum", "exclusiveMinimum", 1), ("maximum", "exclusiveMaximum", -1))
# Keywords that may be dropped but never added or changed.
EXACT = ("pattern", "format", "const", "multipleOf", "uniqueItems")
# What each JSON type name accepts besides itself: every integer is a number.
WIDER = {"number": {"number", "integer"}}
HANDLED = {
    *LOWER,
    *UPPER,
    *EXACT,
    *(key for inclusive, exclusive, _ in NUMERIC for key in (inclusive, exclusive)),
    "type",
    "enum",
    "anyOf",
    "oneOf",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "prefixItems",
    "$ref",
    "$defs",
    "$id",
    "default",
    "title",
    "description",
    "examples",
}


def breaking_changes(old: Schema, new: Schema) -> list[str]:
    """Every way `new` refuses or reinterprets a message `old` accepts; [] when compatible."""
    return _Compare(old, new).node(old, new, "")


class _Compare:
    def __init__(self, old_root: Schema, new_root: Schema):
        self.old_root, self.new_root = old_root, new_root

    @staticmethod
    def _resolve(root: Schema, schema: Schema) -> Schema:
        while "$ref" in schema:
            ref = schema["$ref"]
            if not ref.startswith("#/"):
                raise ValueError(f"only local $refs are supported, not {ref}")
            target: Any = root
            for part in ref[2:].split("/"):
                target = target[part]
            schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        return schema

    def node(self, old: Schema, new: Schema, at: str) -> list[str]:
        old, new = self._resolve(self.old_root, old), self._resolve(self.new_root, new)
        where = at or "<root>"
        unknown = (old.keys() | new.keys()) - HANDLED
        if unknown:  # a keyword this checker does not understand is never waved through
            return [f"{where}: cannot compare keyword(s) {sorted(unknown)}"]
        old_branches = old.get("anyOf") or old.get("oneOf")
        new_branches = new.get("anyOf") or new.get("oneOf")
        if old_branches or new_branches:
            return self._branches(old, new, old_branches, new_branches, at)
        found: list[str] = []
        found += self._types(old, new, where)
        found += self._bounds(old, new, where)
        found += self._enum(old, new, where)
        found += self._object(old, new, at)
        if "items" in old or "items" in new:
            found += self.node(old.get("items", {}), new.get("items", {}), f"{at}[]")
        if old.get("prefixItems") != new.get("prefixItems"):
            found.append(f"{where}: prefixItems changed")
        return found

    def _branches(self, old, new, old_branches, new_branches, at: str) -> list[str]:
        """Each old alternative must be accepted whole by some new alternative."""
        shared = {k: v for k, v in old.items() if k not in ("anyOf", "oneOf")}
        olds = [{**shared, **b} for b in old_branches] if old_branches else [old]
        new_shared = {k: v for k, v in new.items() if k not in ("anyOf", "oneOf")}
        news = [{**new_shared, **b} for b in new_branches] if new_branches else [new]
        found = []
        for i, branch in enumerate(olds):
            attempts = [self.node(branch, candidate, at) for candidate in news]
            if all(attempts):
                best = min(attempts, key=len)
                found.append(f"{at or '<root>'}: alternative {i} no longer accepted ({best[0]})")
        return found

    @staticmethod
    def _types(old: Schema, new: Schema, where: str) -> list[str]:
        if "type" not in new:
            return []
        if "type" not in old:
            return [f"{where}: type restricted to {new['type']}"]
        as_set = lambda t: set(t) if isinstance(t, list) else {t}  # noqa: E731
        accepted = set().union(*(WIDER.get(t, {t}) for t in as_set(new["type"])))
        lost = {t for t in as_set(old["type"]) if t not in accepted}
        return [f"{where}: type narrowed, {sorted(lost)} no longer accepted"] if lost else []

    @staticmethod
    def _bound(schema: Schema, inclusive: str, exclusive: str, sign: int):
        """(how tight, as a number a bigger one of which is tighter; exclusive?) or None."""
        options = [(sign * schema[inclusive], False)] if inclusive in schema else []
        options += [(sign * schema[exclusive], True)] if exclusive in schema else []
        return max(options) if options else None

    def _bounds(self, old: Schema, new: Schema, where: str) -> list[str]:
        found = []
        for inclusive, exclusive, sign in NUMERIC:
            was = self._bound(old, inclusive, exclusive, sign)
            now = self._bound(new, inclusive, exclusive, sign)
            if now is not None and (was is None or now > was):
                found.append(
                    f"{where}: {inclusive} narrowed from {_show(was, sign)} to {_show(now, sign)}"
                )
        for key in LOWER + UPPER:
            if key not in new:
                continue
            if key not in old:
                found.append(f"{where}: {key} {new[key]} added")
            elif (new[key] > old[key]) if key in LOWER else (new[key] < old[key]):
                found.append(f"{where}: {key} narrowed from {old[key]} to {new[key]}")
        for key in EXACT:
            if key in new and new.get(key) != old.get(key):
                found.append(f"{where}: {key} changed from {old.get(key)!r} to {new[key]!r}")
        if "default" in old and new.get("default", old["default"]) != old["default"]:
            found.append(f"{where}: default changed from {old['default']!r} to {new['default']!r}")
        return found

    @staticmethod
    def _enum(old: Schema, new: Schema, where: str) -> list[str]:
        if "enum" not in new:
            return []
        if "enum" not in old:
            return [f"{where}: enum {new['enum']} added"]
        lost = [v for v in old["enum"] if v not in new["enum"]]
        return [f"{where}: enum values {lost} removed"] if lost else []

    def _object(self, old: Schema, new: Schema, at: str) -> list[str]:
        found = []
        prefix = f"{at}." if at else ""
        old_props, new_props = old.get("properties", {}), new.get("properties", {})
        for name in old_props.keys() - new_props.keys():
            found.append(f"{prefix}{name}: removed (or renamed)")
        old_required = set(old.get("required", ()))
        for name in sorted(set(new.get("required", ())) - old_required):
            if name in old_props:
                found.append(f"{prefix}{name}: now required (was optional)")
            else:
                found.append(f"{prefix}{name}: new required field")
        for name in sorted(old_props.keys() & new_props.keys()):
            found += self.node(old_props[name], new_props[name], f"{prefix}{name}")
        if old.get("additionalProperties", True) is not False:
            if new.get("additionalProperties", True) is False:
                found.append(f"{at or '<root>'}: additionalProperties closed")
        return found


def _show(bound, sign: int) -> str:
    if bound is None:
        return "none"
    value, exclusive = bound
    return f"{sign * value}{' (exclusive)' if exclusive else ''}"
