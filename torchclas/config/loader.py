"""Read a YAML config, apply ``-o Key.path=value`` overrides, and parse arithmetic safely.

PaddleClas configs write values such as ``scale: 1.0/255.0``; PaddleClas evaluates them with
``eval``. Here such strings become numbers through a small ``ast`` walker that admits only
numbers and ``+ - * / ** %`` and unary signs, so nothing in a config can execute code.
"""

from __future__ import annotations

import ast
import operator
import re
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

__all__ = ["read_yaml", "apply_overrides", "parse_arithmetic", "resolve_arithmetic"]

_BINARY_OPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
    ast.Mod: operator.mod,
}
_UNARY_OPS = {ast.UAdd: operator.pos, ast.USub: operator.neg}
# Only strings made of digits, dots, operators, parentheses and spaces are candidates.
_ARITHMETIC_CHARS = re.compile(r"^[\d.eE+\-*/%() ]+$")


def _eval_node(node: ast.AST) -> float | int:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY_OPS:
        left, right = _eval_node(node.left), _eval_node(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > 64:
            raise ValueError("exponent too large")
        return _BINARY_OPS[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY_OPS:
        return _UNARY_OPS[type(node.op)](_eval_node(node.operand))
    raise ValueError(f"not arithmetic: {ast.dump(node)}")


def parse_arithmetic(text: str) -> float | int | None:
    """Return the value of a pure arithmetic string such as ``"1.0/255.0"``, else ``None``.

    Example:
        >>> parse_arithmetic("1.0/255.0") == 1 / 255
        True
        >>> parse_arithmetic("./data/train") is None
        True
    """
    if not _ARITHMETIC_CHARS.match(text) or not any(c.isdigit() for c in text):
        return None
    try:
        return _eval_node(ast.parse(text.strip(), mode="eval").body)
    except (SyntaxError, ValueError, ZeroDivisionError, OverflowError, RecursionError):
        return None


def resolve_arithmetic(value: Any) -> Any:
    """Replace every arithmetic string inside nested dicts/lists by its number."""
    if isinstance(value, dict):
        return {k: resolve_arithmetic(v) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_arithmetic(v) for v in value]
    if isinstance(value, str):
        number = parse_arithmetic(value)
        return value if number is None else number
    return value


def read_yaml(path: str | Path) -> dict:
    """Read a YAML config file into a dict, with errors that name the file and line."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections, got {type(data).__name__}")
    return data


def _parse_override(text: str) -> tuple[list[str], Any]:
    if "=" not in text:
        raise ConfigError(f"override '{text}' must look like Key.path=value")
    key, raw = text.split("=", 1)
    parts = key.strip().split(".")
    if not all(parts):
        raise ConfigError(f"override '{text}': empty part in key path '{key}'")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    return parts, value


def apply_overrides(config: dict, overrides: list[str] | tuple[str, ...]) -> dict:
    """Apply ``Key.path=value`` overrides in place; values are typed as YAML would type them.

    Missing intermediate mappings are created, so a typo survives to validation and is
    reported there with its nearest valid spelling. A numeric part indexes into a list.

    Example:
        >>> apply_overrides({"Global": {"epochs": 1}}, ["Global.epochs=5"])
        {'Global': {'epochs': 5}}
    """
    for text in overrides:
        parts, value = _parse_override(text)
        node: Any = config
        for i, part in enumerate(parts[:-1]):
            node = _step_into(node, part, parts[: i + 1], text)
        _assign(node, parts[-1], value, text)
    return config


def _step_into(node: Any, part: str, path: list[str], text: str) -> Any:
    if isinstance(node, list):
        index = _list_index(node, part, text)
        return node[index]
    if not isinstance(node, dict):
        raise ConfigError(f"override '{text}': '{'.'.join(path[:-1])}' is not a mapping")
    if node.get(part) is None:
        node[part] = {}
    return node[part]


def _assign(node: Any, part: str, value: Any, text: str) -> None:
    if isinstance(node, list):
        node[_list_index(node, part, text)] = value
    elif isinstance(node, dict):
        node[part] = value
    else:
        raise ConfigError(f"override '{text}': cannot set '{part}' inside a {type(node).__name__}")


def _list_index(node: list, part: str, text: str) -> int:
    if not part.lstrip("-").isdigit() or not -len(node) <= int(part) < len(node):
        raise ConfigError(f"override '{text}': '{part}' is not an index of a list of {len(node)} items")
    return int(part)
