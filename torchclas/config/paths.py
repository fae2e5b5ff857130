"""Check every file and folder a validated config names, before any data is read or model built.

``check_config_paths(cfg, "train")`` looks up each path key the command will use and raises one
``ConfigError`` that lists every missing one as ``key: file not found: 'value'``, so a run with
three wrong paths fails once with all three rather than three times (or an hour in, at eval).
Paths are taken as written: relative ones are relative to the working directory, as when read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, NamedTuple, Optional

from .errors import ConfigError
from .schema import Config, DatasetConfig, SplitConfig

__all__ = ["PURPOSES", "Purpose", "config_path_problems", "check_config_paths"]

Purpose = Literal["train", "eval", "export", "infer"]
PURPOSES: tuple[str, ...] = ("train", "eval", "export", "infer")
"""The commands whose paths `check_config_paths` knows."""
_WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt", ".pdparams")  # as models.io.weights.resolve_weights_path



class _Entry(NamedTuple):
    """A path key to check: ``kind`` is "file", "folder", "weights" (suffix optional) or "checkpoint";
    ``unset`` is what to report when ``value`` is None (a key or section the purpose needs)."""

    key: str
    value: Optional[str]
    kind: str
    unset: str = ""


def _dataset_entries(where: str, split: Optional[SplitConfig], needed_by: str) -> list[_Entry]:
    """Path keys of one ``DataLoader`` split; a split that is not set is itself reported."""
    if split is None:
        return [_Entry(where, None, "section", f"not set ({needed_by} needs it)")]
    dataset, key = split.dataset, f"{where}.dataset"
    entries = [_Entry(f"{key}.image_root", dataset.image_root, "folder")]
    if dataset.name == "CustomLabelDataset":
        entries.append(_Entry(f"{key}.sample_list_path", dataset.sample_list_path, "file"))
    elif dataset.name not in DatasetConfig.FOLDER_NAMES:
        entries.append(_Entry(f"{key}.cls_label_path", dataset.cls_label_path, "file",
                              f"not set ({dataset.name} needs a 'path label' list file, or use name: ImageFolder)"))
    return entries


def is_url(value: Any) -> bool:
    """Whether a weights value is a URL torchclas downloads (``http://``, ``https://``, ``file://``)
    rather than a local path: a URL is not checked on disk here.

    Example:
        >>> is_url("https://example.com/ResNet18_pretrained.pdparams"), is_url("output/best_model")
        (True, False)
    """
    return isinstance(value, str) and value.lower().startswith(("http://", "https://", "file://"))


def _weights_entries(cfg: Config) -> list[_Entry]:
    entries = []
    if cfg.Global.pretrained_model and not is_url(cfg.Global.pretrained_model):
        entries.append(_Entry("Global.pretrained_model", cfg.Global.pretrained_model, "weights"))
    if isinstance(cfg.Arch.pretrained, str) and cfg.Arch.pretrained and not is_url(cfg.Arch.pretrained):
        entries.append(_Entry("Arch.pretrained", cfg.Arch.pretrained, "weights"))
    return entries


def _entries(cfg: Config, purpose: str) -> list[_Entry]:
    """Every path key ``purpose`` uses, with its value and kind."""
    entries: list[_Entry] = []
    if purpose == "train":
        entries += _dataset_entries("DataLoader.Train", cfg.DataLoader.Train, "train")
        if cfg.DataLoader.Eval is not None and cfg.Global.eval_during_train:
            entries += _dataset_entries("DataLoader.Eval", cfg.DataLoader.Eval, "train")
        entries += _weights_entries(cfg)
        if cfg.Global.checkpoints and cfg.Global.checkpoints != "auto":
            entries.append(_Entry("Global.checkpoints", cfg.Global.checkpoints, "checkpoint"))
    elif purpose == "eval":
        entries += _dataset_entries("DataLoader.Eval", cfg.DataLoader.Eval, "eval")
        entries += _weights_entries(cfg)
    elif purpose in ("export", "infer"):
        if purpose == "export":
            entries += _weights_entries(cfg)
        if cfg.Infer.PostProcess.class_id_map_file:
            entries.append(_Entry("Infer.PostProcess.class_id_map_file", cfg.Infer.PostProcess.class_id_map_file,
                                  "file"))
    return entries


def _problem(entry: _Entry) -> str | None:
    """The line reporting ``entry``'s path, or None when it is there."""
    key, value, kind = entry.key, entry.value, entry.kind
    if value is None:
        return f"{key}: {entry.unset}"
    path = Path(value)
    if kind == "folder":
        if path.is_dir():
            return None
        return f"{key}: not a folder: '{value}'" if path.exists() else f"{key}: folder not found: '{value}'"
    if kind == "file":
        if path.is_file():
            return None
        return f"{key}: is a folder, not a file: '{value}'" if path.is_dir() else f"{key}: file not found: '{value}'"
    if kind == "weights":
        if path.is_file() or any(path.with_name(path.name + s).is_file() for s in _WEIGHT_SUFFIXES):
            return None
        return f"{key}: file not found: '{value}' (also tried {', '.join(_WEIGHT_SUFFIXES)})"
    weights = Path(str(value).removesuffix(".safetensors") + ".safetensors")  # checkpoint
    if weights.is_file():
        return None
    also = f" (also tried '{weights}')" if str(weights) != str(value) else ""
    return f"{key}: file not found: '{value}'{also}; use Global.checkpoints=auto to resume from the newest"


def config_path_problems(cfg: Config, purpose: Purpose) -> list[str]:
    """One line per missing or wrong-kind path that ``purpose`` needs (empty when all are there).

    Example:
        >>> config_path_problems(cfg, "eval")  # doctest: +SKIP
        ["DataLoader.Eval.dataset.cls_label_path: file not found: 'val_list.txt'"]
    """
    if purpose not in PURPOSES:
        raise ValueError(f"unknown purpose {purpose!r}; valid: {', '.join(PURPOSES)}")
    problems = [_problem(entry) for entry in _entries(cfg, purpose)]
    return [p for p in problems if p is not None]


def check_config_paths(cfg: Config, purpose: Purpose, source: str | None = None) -> None:
    """Raise one ``ConfigError`` listing every path key of ``cfg`` that ``purpose`` needs and is missing.

    Keys checked, by purpose:

    - ``train``: ``DataLoader.Train`` (and ``DataLoader.Eval`` when ``Global.eval_during_train``)
      ``.dataset.image_root`` (a folder) and ``cls_label_path`` (a file; not for ``ImageFolder``);
      ``Global.pretrained_model`` and a string ``Arch.pretrained`` (weights, the suffix may be
      left out as in PaddleClas; URLs are downloaded, not checked here); ``Global.checkpoints`` unless ``auto``.
    - ``eval``: ``DataLoader.Eval`` as above, and the weights keys.
    - ``export``: the weights keys and ``Infer.PostProcess.class_id_map_file``.
    - ``infer``: ``Infer.PostProcess.class_id_map_file``.

    Unset optional keys are not checked; a ``DataLoader`` split the purpose needs is reported
    when it is not set.

    Args:
        cfg: a validated config.
        purpose: ``"train"``, ``"eval"``, ``"export"`` or ``"infer"``.
        source: the config file, named at the head of the message.

    Raises:
        ConfigError: e.g. ``cfg.yaml: 2 config paths not found (train):
        DataLoader.Train.dataset.cls_label_path: file not found: 'x.txt' ...`` (one per line).

    Example:
        >>> check_config_paths(read_config("configs/quickstart/fashion_mnist.yaml"), "train")  # doctest: +SKIP
    """
    problems = config_path_problems(cfg, purpose)
    if not problems:
        return
    head = f"{source}: " if source else ""
    noun = "config path" if len(problems) == 1 else "config paths"
    raise ConfigError(f"{head}{len(problems)} {noun} not found ({purpose}):\n  " + "\n  ".join(problems))
