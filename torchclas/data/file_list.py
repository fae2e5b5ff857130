"""PaddleClas list files: ``path label`` lines (train/val lists) and ``id name`` lines (label_list.txt).

Every line is validated before any image is read; errors name the file, the 1-based line
number, the line itself and what was expected. All bad lines of a file are reported at once
(the first :data:`MAX_REPORTED` of them), so one run shows everything to fix.
"""

from __future__ import annotations

import os
import re

__all__ = ["MAX_REPORTED", "read_file_list", "read_numbered_file_list", "read_label_list"]

MAX_REPORTED = 20
"""How many bad lines one error message quotes; the rest are counted."""
_INTEGER = re.compile(r"[+-]?\d+")
# Separators people use in place of the configured one; named in the error when a line has one.
_OTHER_SEPARATORS = (",", "\t", ";", "|", " ")


def _split_line(line: str, delimiter: str | None) -> tuple[str, str] | None:
    """Split "path label" on the last run of `delimiter` (whitespace when None or "")."""
    if not delimiter:
        parts = line.strip().rsplit(None, 1)
        return (parts[0], parts[1]) if len(parts) == 2 else None
    while line.endswith(delimiter):
        line = line[: -len(delimiter)]
    path, found, label = line.rpartition(delimiter)
    while path.endswith(delimiter):
        path = path[: -len(delimiter)]
    return (path, label) if found and path else None


def _no_separator(line: str, delimiter: str | None) -> str:
    """The error for a line without a separator, naming another separator the line has."""
    if not delimiter:
        expected = "expected 'path label'"
        others = [s for s in _OTHER_SEPARATORS if s.strip() and s in line]
    else:
        expected = f"expected 'path{delimiter}label' separated by {delimiter!r}"
        others = [s for s in _OTHER_SEPARATORS if s != delimiter and s in line]
    if not others:
        return expected
    return (f"{expected}; the line has {others[0]!r}: if that separates path and label, "
            f"set dataset.delimiter to {others[0]!r}")


def _line_problem(line: str, delimiter: str | None, class_num: int | None) -> tuple[str, int] | str:
    """``(path, label)`` for a good line, else the sentence saying what is wrong with it."""
    parts = _split_line(line, delimiter)
    if parts is None:
        return _no_separator(line, delimiter)
    path, label = parts[0], parts[1].strip()
    if not re.fullmatch(r"[+]?\d+", label):
        return f"label {label!r} is not an integer >= 0"
    fields = path.split(delimiter) if delimiter else path.split()
    if len(fields) > 1 and _INTEGER.fullmatch(fields[-1].strip()):
        count = len(fields) + 1
        return (f"{count} fields, expected 2 ('path label'); a path may contain "
                f"{'spaces' if not delimiter else repr(delimiter)} but cannot end in a number")
    value = int(label)
    if class_num is not None and value >= class_num:
        return f"label {value} is out of range: class_num is {class_num}, so labels are 0..{class_num - 1}"
    return path, value


def read_numbered_file_list(cls_label_path: str, image_root: str, delimiter: str | None = None,
                            class_num: int | None = None) -> list[tuple[int, str, int]]:
    """Read a PaddleClas list file into ``(line number, image_root/path, label)`` triples.

    Same rules and errors as :func:`read_file_list`, which drops the line numbers.

    Example:
        >>> read_numbered_file_list("train_list.txt", "data/fm")[0]  # doctest: +SKIP
        (1, 'data/fm/train/00000.png', 9)
    """
    if not os.path.isfile(cls_label_path):
        raise FileNotFoundError(f"label list file not found: '{cls_label_path}'")
    samples, problems, bad_count = [], [], 0
    with open(cls_label_path, encoding="utf-8-sig") as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.rstrip("\r\n")
            if not line.strip():
                continue
            parsed = _line_problem(line, delimiter, class_num)
            if isinstance(parsed, str):
                bad_count += 1
                if len(problems) < MAX_REPORTED:
                    problems.append(f"{cls_label_path}:{number}: {line!r}: {parsed}")
                continue
            samples.append((number, os.path.join(image_root, parsed[0]), parsed[1]))
    if bad_count == 1:
        raise ValueError(problems[0])
    if bad_count:
        more = f"\n  ... and {bad_count - len(problems)} more" if bad_count > len(problems) else ""
        raise ValueError(f"{cls_label_path}: {bad_count} bad lines:\n  " + "\n  ".join(problems) + more)
    return samples


def read_file_list(cls_label_path: str, image_root: str, delimiter: str | None = None,
                   class_num: int | None = None) -> list[tuple[str, int]]:
    """Read a PaddleClas list file of "relative/path label" lines.

    Each line is split on its last run of `delimiter` (any whitespace when None), so paths may
    contain spaces (but may not end in a number: ``a.jpg 1 0`` is a line with an extra field).
    Blank lines are skipped.

    Args:
        cls_label_path: the list file, e.g. "dataset/ILSVRC2012/train_list.txt".
        image_root: directory the relative paths are joined to.
        delimiter: separator between path and label; None means whitespace.
        class_num: when given, labels must be below it.

    Returns:
        [(image_root/path, label), ...] with integer labels >= 0.

    Raises:
        FileNotFoundError when the list file is missing; ValueError naming the file, the 1-based
        line number and the line for every line (up to :data:`MAX_REPORTED`) that has no label,
        another separator than `delimiter`, an extra field, a label that is not an integer,
        negative, or not below `class_num`.

    Example:
        >>> read_file_list("train_list.txt", "data/fm", class_num=10)  # doctest: +SKIP
        [('data/fm/train/00000.png', 9), ...]
    """
    return [(path, label) for _, path, label in
            read_numbered_file_list(cls_label_path, image_root, delimiter, class_num)]


def read_label_list(path: str, delimiter: str | None = None) -> list[str]:
    """Read a PaddleClas `label_list.txt` of "id name" lines into names indexed by id.

    Names may contain spaces; ids must be exactly 0..n-1 (in any order). The id ends at the first
    ``delimiter`` (default: the first run of whitespace).

    Example:
        >>> read_label_list("label_list.txt")[:2]  # doctest: +SKIP
        ['T-shirt/top', 'Trouser']
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"label list file not found: '{path}'")
    names: dict[int, str] = {}
    with open(path, encoding="utf-8-sig") as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.strip()
            if not line:
                continue
            parts = [p.strip() for p in line.split(delimiter, 1)] if delimiter else line.split(None, 1)
            if len(parts) != 2 or not parts[0].isdigit():
                raise ValueError(f"{path}:{number}: {line!r}: expected 'id name' with an integer id")
            if int(parts[0]) in names:
                raise ValueError(f"{path}:{number}: id {parts[0]} appears twice")
            names[int(parts[0])] = parts[1]
    missing = sorted(set(range(len(names))) - set(names))
    if missing:
        raise ValueError(f"{path}: ids must be 0..{len(names) - 1}; missing {missing[:10]}")
    return [names[i] for i in range(len(names))]
