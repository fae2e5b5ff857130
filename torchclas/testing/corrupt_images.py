"""A data set of every corrupt and exotic image kind a real list meets, with what should happen to each.

:func:`write_corrupt_dataset` writes one file per kind under ``root/images/`` and a PaddleClas
list file ``root/list.txt`` naming them all (plus one file that does not exist), and returns a
:class:`CorruptCase` per line saying what the loader must do with it:

- ``"decodes"``: a valid but unusual file (CMYK JPEG, 16-bit PNG, RGBA/palette/gray PNG, an
  EXIF-rotated JPEG); ``CorruptCase.check_decoded`` compares ``DecodeImage``'s output with the
  picture that was encoded.
- ``"skipped"``: an unreadable file (zero bytes, truncated JPEG/PNG, text named ``.jpg``); the
  dataset returns a ``BadSample`` whose reason contains ``CorruptCase.reason`` (strict mode:
  ``BadImageError`` naming the path).
- ``"missing"``: listed but absent; the dataset drops it up front and lists it in
  ``dataset.missing_files`` (strict mode: raises naming the list file and line).

:func:`write_bad_lists` writes one list file per kind of bad line in :data:`BAD_LIST_LINES`
(a label that is not an int, negative, ``>= class_num``; a wrong separator; extra fields).

Only PIL and numpy are used, so the files are the same whatever decoder torchclas uses.

Example:
    >>> cases = write_corrupt_dataset("/tmp/corrupt")  # doctest: +SKIP
    >>> [c.kind for c in cases if c.outcome == "skipped"]  # doctest: +SKIP
    ['zero_byte', 'truncated_jpeg', 'truncated_png', 'text_as_jpeg']
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional

import numpy as np
from PIL import Image

__all__ = ["CLASS_NUM", "LIST_FILE", "CorruptCase", "write_corrupt_dataset", "BadListLine",
           "BAD_LIST_LINES", "BadListCase", "write_bad_lists"]

CLASS_NUM = 2
"""Labels in ``list.txt`` alternate 0, 1: use ``class_num: 2`` with the corrupt data set."""
LIST_FILE = "list.txt"
"""Name of the list file :func:`write_corrupt_dataset` writes under ``root``."""
_LEFT, _RIGHT = (200, 40, 40), (30, 160, 220)  # the two halves of every decodable picture

Outcome = Literal["decodes", "skipped", "missing"]


@dataclass(frozen=True)
class CorruptCase:
    """One line of the corrupt data set's list file and what loading it must give.

    Attributes:
        kind: what the file is, e.g. ``"cmyk_jpeg"`` or ``"truncated_png"``.
        path: the file (absent for ``outcome == "missing"``).
        line: its 1-based line number in ``root/list.txt``.
        label: its label there.
        outcome: ``"decodes"``, ``"skipped"`` (a ``BadSample``) or ``"missing"`` (dropped up front).
        reason: for ``"skipped"``, a fragment the skip reason must contain ("" when the wording
            depends on the decoder's version).
        expected: for ``"decodes"``, the HxWx3 uint8 RGB picture decoding must give.
        tolerance: the largest mean absolute difference from ``expected`` allowed (JPEG is lossy).
    """

    kind: str
    path: Path
    line: int
    label: int
    outcome: Outcome
    reason: str = ""
    expected: Optional[np.ndarray] = field(default=None, repr=False, compare=False)
    tolerance: float = 0.0

    @property
    def expected_shape(self) -> tuple[int, int, int] | None:
        """The CHW shape ``DecodeImage`` must return (3 channels), or None when not ``"decodes"``."""
        if self.expected is None:
            return None
        return (3, self.expected.shape[0], self.expected.shape[1])

    def check_decoded(self, image: Any) -> str | None:
        """Compare a decoded CHW image (tensor or array, as ``DecodeImage`` returns) with ``expected``.

        Returns:
            None when shape, dtype and pixels match; otherwise a sentence saying what differs.

        Example:
            >>> problem = case.check_decoded(DecodeImage()(case.path.read_bytes()))  # doctest: +SKIP
        """
        if self.expected is None:
            return f"{self.kind}: expected outcome '{self.outcome}', nothing should decode"
        array = np.asarray(image.detach().cpu().numpy() if hasattr(image, "detach") else image)
        if tuple(array.shape) != self.expected_shape:
            return f"{self.kind}: shape {tuple(array.shape)}, expected {self.expected_shape}"
        if array.dtype != np.uint8:
            return f"{self.kind}: dtype {array.dtype}, expected uint8"
        error = float(np.abs(array.transpose(1, 2, 0).astype(np.float64) - self.expected).mean())
        if error > self.tolerance:
            return f"{self.kind}: mean absolute pixel error {error:.2f} > {self.tolerance}"
        return None


def _picture(size: int) -> np.ndarray:
    """The reference picture: ``size`` x ``2*size`` (H x W), left half red-ish, right half blue-ish."""
    pixels = np.empty((size, 2 * size, 3), dtype=np.uint8)
    pixels[:, :size] = _LEFT
    pixels[:, size:] = _RIGHT
    return pixels


def _encode(img: Image.Image, fmt: str, **kwargs: Any) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def _noisy_jpeg(size: int) -> bytes:
    """A JPEG whose scan data is most of the file, so cutting it in half cuts into the pixels."""
    noise = np.random.default_rng(0).integers(0, 256, (size, 2 * size, 3), dtype=np.uint8)
    return _encode(Image.fromarray(noise), "JPEG", quality=95)


def _noisy_png(size: int) -> bytes:
    noise = np.random.default_rng(1).integers(0, 256, (size, 2 * size, 3), dtype=np.uint8)
    return _encode(Image.fromarray(noise), "PNG")


def _decodable(size: int) -> list[tuple[str, str, bytes, np.ndarray, float]]:
    """(kind, file name, bytes, expected HxWx3 picture, tolerance) for every valid exotic kind."""
    rgb = _picture(size)
    gray = np.asarray(Image.fromarray(rgb).convert("L"))
    gray3 = np.repeat(gray[:, :, None], 3, axis=2)
    alpha = np.full((size, 2 * size, 1), 128, dtype=np.uint8)
    palette = Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    ramp16 = np.linspace(0, 65535, 2 * size).round().astype(np.uint16)[None, :].repeat(size, axis=0)
    ramp8 = np.repeat((ramp16 >> 8).astype(np.uint8)[:, :, None], 3, axis=2)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation 6: display rotated 90 degrees clockwise
    return [
        ("rgb_png", "rgb.png", _encode(Image.fromarray(rgb), "PNG"), rgb, 0.0),
        ("rgb_jpeg", "rgb.jpg", _encode(Image.fromarray(rgb), "JPEG", quality=95), rgb, 4.0),
        ("gray_png", "gray.png", _encode(Image.fromarray(gray), "PNG"), gray3, 0.0),
        ("rgba_png", "rgba.png", _encode(Image.fromarray(np.concatenate([rgb, alpha], 2), "RGBA"), "PNG"),
         rgb, 0.0),
        ("palette_png", "palette.png", _encode(palette, "PNG"), np.asarray(palette.convert("RGB")), 0.0),
        ("cmyk_jpeg", "cmyk.jpg", _encode(Image.fromarray(rgb).convert("CMYK"), "JPEG", quality=95), rgb, 4.0),
        ("png_16bit", "gray16.png", _encode(Image.fromarray(ramp16), "PNG"), ramp8, 1.0),
        ("exif_rotated_jpeg", "exif_rotated.jpg", _encode(Image.fromarray(rgb), "JPEG", quality=95, exif=exif),
         np.ascontiguousarray(np.rot90(rgb, k=-1)), 4.0),
    ]


def _broken(size: int) -> list[tuple[str, str, bytes, str]]:
    """(kind, file name, bytes, reason fragment) for every unreadable kind."""
    jpeg, png = _noisy_jpeg(size), _noisy_png(size)
    return [
        ("zero_byte", "zero_byte.jpg", b"", "empty"),
        ("truncated_jpeg", "truncated.jpg", jpeg[: len(jpeg) // 2], "truncated"),
        ("truncated_png", "truncated.png", png[: len(png) // 2], "truncated"),
        ("text_as_jpeg", "not_an_image.jpg", b"<html><body>404 Not Found</body></html>\n",
         "not a recognised image format"),
    ]


def write_corrupt_dataset(root: str | Path, size: int = 32) -> list[CorruptCase]:
    """Write one image of every corrupt/exotic kind under ``root/images/`` and list them in ``root/list.txt``.

    The list has one ``images/<name> <label>`` line per case, labels alternating 0 and 1
    (:data:`CLASS_NUM`), the missing file last but one so that it sits between readable lines.

    Args:
        root: folder to write (created; existing files of the same names are replaced).
        size: picture height; decodable pictures are ``size`` x ``2*size`` (H x W) so a rotation
            shows in the shape.

    Returns:
        One :class:`CorruptCase` per list line, in line order.

    Example:
        >>> cases = write_corrupt_dataset(tmp_path)  # doctest: +SKIP
        >>> ds = FileListDataset(str(tmp_path), str(tmp_path / LIST_FILE))  # doctest: +SKIP
        >>> [line for line, _ in ds.missing_files] == [c.line for c in cases if c.outcome == "missing"]  # doctest: +SKIP
        True
    """
    root = Path(root)
    images = root / "images"
    images.mkdir(parents=True, exist_ok=True)
    entries: list[tuple[str, str, Outcome, str, Optional[np.ndarray], float]] = []
    for kind, name, data, expected, tolerance in _decodable(size):
        (images / name).write_bytes(data)
        entries.append((kind, name, "decodes", "", expected, tolerance))
    for kind, name, data, reason in _broken(size):
        (images / name).write_bytes(data)
        entries.append((kind, name, "skipped", reason, None, 0.0))
    (images / "missing.jpg").unlink(missing_ok=True)
    entries.insert(len(entries) - 1, ("missing_file", "missing.jpg", "missing", "", None, 0.0))
    cases, lines = [], []
    for number, (kind, name, outcome, reason, expected, tolerance) in enumerate(entries, start=1):
        label = (number - 1) % CLASS_NUM
        lines.append(f"images/{name} {label}")
        cases.append(CorruptCase(kind, images / name, number, label, outcome, reason, expected, tolerance))
    (root / LIST_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return cases


@dataclass(frozen=True)
class BadListLine:
    """A kind of list-file line that ``read_file_list`` must reject with its line number.

    Attributes:
        kind: e.g. ``"label_too_large"``.
        text: the bad line (after a good first line ``images/rgb.png 0``).
        error: a fragment the ``ValueError`` message must contain.
        delimiter: the ``dataset.delimiter`` the list is read with (None: whitespace).
    """

    kind: str
    text: str
    error: str
    delimiter: Optional[str] = None


BAD_LIST_LINES: tuple[BadListLine, ...] = (
    BadListLine("no_label", "images/rgb.png", "expected 'path label'"),
    BadListLine("label_not_int", "images/rgb.png one", "label 'one' is not an integer >= 0"),
    BadListLine("label_fraction", "images/rgb.png 1.5", "label '1.5' is not an integer >= 0"),
    BadListLine("label_negative", "images/rgb.png -1", "label '-1' is not an integer >= 0"),
    BadListLine("label_too_large", f"images/rgb.png {CLASS_NUM}",
                f"label {CLASS_NUM} is out of range: class_num is {CLASS_NUM}"),
    BadListLine("comma_separator", "images/rgb.png,1", "set dataset.delimiter to ','"),
    BadListLine("extra_field", "images/rgb.png 1 0", "3 fields"),
    BadListLine("tab_for_space", "images/rgb.png\t1", "expected 'path label' separated by ' '", delimiter=" "),
    BadListLine("space_for_comma", "images/rgb.png 1", "expected 'path,label' separated by ','",
                delimiter=","),
)
"""Every kind of bad line, with the error fragment torchclas gives for it (line number 2)."""


@dataclass(frozen=True)
class BadListCase:
    """A list file written by :func:`write_bad_lists`: its path, the bad line's number and kind."""

    path: Path
    line: int
    bad: BadListLine


def write_bad_lists(root: str | Path, cases: tuple[BadListLine, ...] = BAD_LIST_LINES) -> list[BadListCase]:
    """Write ``root/bad_lists/<kind>.txt`` for each case: a good line, then the bad one (line 2).

    Paths in the lists are relative to ``root`` (the images of :func:`write_corrupt_dataset`),
    so a list that parsed would find its files; read them with ``class_num=CLASS_NUM``.

    Example:
        >>> for case in write_bad_lists(tmp_path):  # doctest: +SKIP
        ...     with pytest.raises(ValueError, match=f":{case.line}: "):
        ...         read_file_list(case.path, tmp_path, case.bad.delimiter, class_num=CLASS_NUM)
    """
    folder = Path(root) / "bad_lists"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for bad in cases:
        good = "images/rgb.png" + (bad.delimiter or " ") + "0"
        path = folder / f"{bad.kind}.txt"
        path.write_text(f"{good}\n{bad.text}\n", encoding="utf-8")
        written.append(BadListCase(path, 2, bad))
    return written
