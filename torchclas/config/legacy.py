"""PaddleClas 2.0's old config format, translated onto today's sections.

PaddleClas 2.0 configs (e.g. ``quick_start/kunlun/*.yaml``) keep run-wide keys at the top level
and use ``ARCHITECTURE``, ``LEARNING_RATE``, ``OPTIMIZER``, ``TRAIN`` and ``VALID`` sections.
`translate_legacy` maps them onto ``Global``, ``Arch``, ``Loss``, ``Optimizer``, ``DataLoader``,
``Infer`` and ``Metric``; a key it does not know fails with its name. ``-o`` overrides are
applied before translating, so they use the old spelling (``-o TRAIN.file_list=...``); today's
sections given next to the old ones (``-o Global.epochs=1``) are merged over the translation.
"""

from __future__ import annotations

import logging
from typing import Any

from .errors import ConfigError

__all__ = ["is_legacy", "translate_legacy", "LEGACY_SECTIONS"]

log = logging.getLogger("torchclas")

LEGACY_SECTIONS = ("ARCHITECTURE", "LEARNING_RATE", "OPTIMIZER", "TRAIN", "VALID")
_TODAY = ("Global", "Arch", "Loss", "Optimizer", "DataLoader", "Infer", "Metric", "AMP", "EMA")
# top-level key -> Global key
_GLOBAL = {"pretrained_model": "pretrained_model", "checkpoints": "checkpoints", "model_save_dir": "output_dir",
           "save_interval": "save_interval", "epochs": "epochs", "image_shape": "image_shape",
           "validate": "eval_during_train", "valid_interval": "eval_interval"}
# keys with no effect here, and why
_NO_EFFECT = {
    "mode": "the command (train, eval, infer) decides",
    "load_static_weights": "Global.pretrained_model loads .pdparams and torch/safetensors weights alike",
    "total_images": "the steps per epoch come from the data set's size",
}
_OTHER = ("classes_num", "topk", "ls_epsilon", "use_label_smoothing", "use_mix")
_SPLIT_KEYS = ("batch_size", "num_workers", "file_list", "data_dir", "shuffle_seed", "transforms", "mix", "delimiter")


def is_legacy(raw: dict[str, Any]) -> bool:
    """Whether ``raw`` is a PaddleClas 2.0 config (it has an old upper-case section).

    Example:
        >>> is_legacy({"ARCHITECTURE": {"name": "ResNet50_vd"}}), is_legacy({"Arch": {"name": "ResNet50_vd"}})
        (True, False)
    """
    return any(section in raw for section in LEGACY_SECTIONS)


def _check(section: dict[str, Any] | None, allowed: tuple[str, ...], where: str) -> dict[str, Any]:
    section = section or {}
    if not isinstance(section, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(section).__name__}")
    unknown = sorted(set(section) - set(allowed))
    if unknown:
        raise ConfigError(f"{where}: old-format (PaddleClas 2.0) keys torchclas does not translate: "
                          f"{', '.join(unknown)} (translated: {', '.join(allowed)})")
    return section


def _lr(section: dict[str, Any]) -> dict[str, Any]:
    section = _check(section, ("function", "params"), "LEARNING_RATE")
    params = dict(section.get("params") or {})
    lr = {"name": section.get("function", "Cosine")}
    if "lr" in params:
        lr["learning_rate"] = params.pop("lr")
    if lr["name"] == "Piecewise" and "gamma" in params:  # 2.0: lr x gamma^i after each decay epoch
        gamma, base = params.pop("gamma"), lr.get("learning_rate", 0.1)
        lr["values"] = [base * gamma ** i for i in range(len(params.get("decay_epochs") or []) + 1)]
    return {**lr, **params}


def _optimizer(section: dict[str, Any], lr: dict[str, Any]) -> dict[str, Any]:
    section = _check(section, ("function", "params", "regularizer"), "OPTIMIZER")
    optimizer = {"name": section.get("function", "Momentum"), **(section.get("params") or {}), "lr": lr}
    if section.get("regularizer"):
        reg = _check(section["regularizer"], ("function", "factor"), "OPTIMIZER.regularizer")
        optimizer["regularizer"] = {"name": reg.get("function", "L2"), "coeff": reg.get("factor", 0.0)}
    return optimizer


def _split(section: dict[str, Any], where: str, train: bool, use_mix: bool) -> dict[str, Any]:
    section = _check(section, _SPLIT_KEYS if train else tuple(k for k in _SPLIT_KEYS if k != "mix"), where)
    dataset = {"name": "ImageNetDataset", "image_root": section.get("data_dir", "./"),
               "cls_label_path": section.get("file_list"), "transform_ops": section.get("transforms")}
    if section.get("delimiter") is not None:
        dataset["delimiter"] = section["delimiter"]
    if train and section.get("mix") and use_mix:
        dataset["batch_transform_ops"] = section["mix"]
    sampler = {"name": "DistributedBatchSampler", "batch_size": section.get("batch_size", 64),
               "drop_last": False, "shuffle": train}
    return {"dataset": dataset, "sampler": sampler, "loader": {"num_workers": section.get("num_workers", 0)}}


def translate_legacy(raw: dict[str, Any], source: str = "config") -> dict[str, Any]:
    """Today's config for the PaddleClas 2.0 config ``raw`` (see the module docstring).

    Example:
        >>> cfg = translate_legacy({"ARCHITECTURE": {"name": "ResNet50_vd"}, "classes_num": 102, "topk": 5,
        ...                         "LEARNING_RATE": {"function": "Cosine", "params": {"lr": 0.01}}})
        >>> cfg["Arch"], cfg["Optimizer"]["lr"], cfg["Metric"]["Eval"]
        ({'name': 'ResNet50_vd', 'class_num': 102}, {'name': 'Cosine', 'learning_rate': 0.01}, [{'TopkAcc': {'topk': [1, 5]}}])
    """
    known = (*LEGACY_SECTIONS, *_GLOBAL, *_NO_EFFECT, *_OTHER, *_TODAY)
    _check(raw, known, source)
    if "ARCHITECTURE" not in raw:
        raise ConfigError(f"{source}: an old-format (PaddleClas 2.0) config needs ARCHITECTURE.name")
    if "Arch" in raw and "name" in (raw["Arch"] or {}):
        raise ConfigError(f"{source}: both ARCHITECTURE (old format) and Arch.name: give one of them")
    arch_section = _check(raw["ARCHITECTURE"], ("name", "params"), "ARCHITECTURE")
    arch = {"name": arch_section.get("name"), **(arch_section.get("params") or {})}
    if raw.get("classes_num") is not None:
        arch["class_num"] = raw["classes_num"]
    out: dict[str, Any] = {"Global": {_GLOBAL[k]: raw[k] for k in _GLOBAL if k in raw}, "Arch": arch}
    if raw.get("TRAIN") and raw["TRAIN"].get("shuffle_seed") is not None:
        out["Global"]["seed"] = raw["TRAIN"]["shuffle_seed"]
    lr = _lr(raw["LEARNING_RATE"]) if "LEARNING_RATE" in raw else {"name": "Cosine"}
    out["Optimizer"] = _optimizer(raw.get("OPTIMIZER") or {}, lr)
    use_mix = bool(raw.get("use_mix", True))
    ce = {"weight": 1.0}
    if raw.get("use_label_smoothing") and raw.get("ls_epsilon"):
        ce["epsilon"] = raw["ls_epsilon"]
    out["Loss"] = {"Train": [{"CELoss": ce}], "Eval": [{"CELoss": {"weight": 1.0}}]}
    loader = {}
    if "TRAIN" in raw:
        loader["Train"] = _split(raw["TRAIN"], "TRAIN", True, use_mix)
    if "VALID" in raw:
        loader["Eval"] = _split(raw["VALID"], "VALID", False, use_mix)
        out["Infer"] = {"transforms": raw["VALID"].get("transforms")}
    out["DataLoader"] = loader
    topk = raw.get("topk", 5)
    ks = sorted({1, topk})
    out["Metric"] = {split: [{"TopkAcc": {"topk": ks}}] for split in ("Train", "Eval")}
    out.setdefault("Infer", {})["PostProcess"] = {"name": "Topk", "topk": topk}
    for section in _TODAY:  # today's sections next to the old ones (e.g. from -o) win
        if section in raw:
            out[section] = _merged(out.get(section), raw[section])
    dropped = [k for k in _NO_EFFECT if k in raw]
    log.warning("%s: an old-format (PaddleClas 2.0) config, translated to today's sections%s", source,
                "; without effect here: " + "; ".join(f"{k} ({_NO_EFFECT[k]})" for k in dropped) if dropped else "")
    return out


def _merged(base: Any, over: Any) -> Any:
    """``over`` merged into ``base`` (mappings key by key, anything else replaced)."""
    if isinstance(base, dict) and isinstance(over, dict):
        return {**base, **{k: _merged(base.get(k), v) for k, v in over.items()}}
    return over
