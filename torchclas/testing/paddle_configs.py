"""Running a PaddleClas-format config on tiny data with only its data paths changed.

Shared by ``tests/test_paddle_format_configs.py`` (the shipped configs under ``configs/``) and
``bench/paddle_configs.py`` (PaddleClas's own ``ppcls/configs/`` tree).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["other_issue", "data_overrides"]


def other_issue(path: Path, raw: dict[str, Any]) -> str | None:
    """The later issue a PaddleClas config belongs to (``search``, ``distill``, ``multilabel``,
    ``retrieval``), or None when torchclas must run it today.

    Example:
        >>> other_issue(Path("x.yaml"), {"Arch": {"name": "DistillationModel"}})
        'distill'
    """
    if path.name.startswith("search") or "search_dict" in raw:
        return "search"
    arch = (raw.get("Arch") or {}).get("name")
    if arch == "DistillationModel":
        return "distill"
    if arch == "RecModel" or any(k in ((raw.get("DataLoader") or {}).get("Eval") or {}) for k in ("Query", "Gallery")):
        return "retrieval"
    for split in (raw.get("DataLoader") or {}).values():
        if isinstance(split, dict) and (split.get("dataset") or {}).get("name") == "MultiLabelDataset":
            return "multilabel"
    return None


def data_overrides(raw: dict[str, Any], root: str | Path, lists: dict[str, str | Path], image: str | Path,
                   batch_size: int | None = None, sample_list: str | Path | None = None) -> list[str]:
    """``-o`` overrides pointing each ``DataLoader`` split of ``raw`` at tiny data.

    ``root`` becomes every ``image_root``; ``lists[split]`` (or ``lists["Train"]``) every
    ``cls_label_path`` / ``sample_list_path``; ``image`` ``Infer.infer_imgs``; a
    ``class_id_map_file`` is pointed at ``root/label_list.txt``. With ``batch_size`` the samplers'
    batch sizes are cut to it. A PaddleClas 2.0 config's ``TRAIN``/``VALID`` get the same, in
    their spelling (``data_dir``, ``file_list``, ``batch_size``). With ``sample_list`` (image paths
    alone, one a line) every ``sample_list_path`` is that list: a ``CustomLabelDataset`` without
    ``delimiter`` takes a whole line as the path, as PaddleClas does.

    Example:
        >>> data_overrides({"DataLoader": {"Eval": {"dataset": {"cls_label_path": "v.txt"}}}},
        ...                "/d", {"Train": "/d/t.txt", "Eval": "/d/v.txt"}, "/d/a.png")
        ['DataLoader.Eval.dataset.image_root=/d', 'DataLoader.Eval.dataset.cls_label_path=/d/v.txt']
    """
    out = []
    if "infer_imgs" in (raw.get("Infer") or {}):
        out.append(f"Infer.infer_imgs={image}")
    if "infer_imgs" in (raw.get("Global") or {}):
        out.append(f"Global.infer_imgs={image}")
    for split, section in (raw.get("DataLoader") or {}).items():
        if not isinstance(section, dict) or "dataset" not in section:
            continue
        dataset = section["dataset"] or {}
        prefix = f"DataLoader.{split}.dataset"
        out.append(f"{prefix}.image_root={root}")
        for key in ("cls_label_path", "sample_list_path"):
            if key in dataset:
                listed = sample_list if key == "sample_list_path" and sample_list else lists.get(split, lists["Train"])
                out.append(f"{prefix}.{key}={listed}")
        sampler = section.get("sampler") or {}
        if batch_size and sampler:
            out.append(f"DataLoader.{split}.sampler.batch_size={batch_size}")
            if "first_bs" in sampler:
                out.append(f"DataLoader.{split}.sampler.first_bs={batch_size}")
    for split, name in (("TRAIN", "Train"), ("VALID", "Eval")):  # PaddleClas 2.0's old format
        if isinstance(raw.get(split), dict):
            out += [f"{split}.data_dir={root}", f"{split}.file_list={lists.get(name, lists['Train'])}"]
            if batch_size:
                out.append(f"{split}.batch_size={batch_size}")
    post = (raw.get("Infer") or {}).get("PostProcess") or {}
    if "class_id_map_file" in post:
        out.append(f"Infer.PostProcess.class_id_map_file={Path(root) / 'label_list.txt'}")
    return out
