"""Inference the way PaddleClas's ``tools/infer.py`` does it: everything from the config.

``Global.pretrained_model`` is the model, ``Infer.infer_imgs`` the images (a file or a folder),
``Infer.batch_size`` the batch, ``Infer.transforms`` the preprocessing and ``Infer.PostProcess``
the post-process. ``torchclas infer -c CONFIG`` with no image runs :func:`config_predictions`.
"""

from __future__ import annotations

from typing import Any, Iterator

from ..config import Config
from .inputs import infer_image_list
from .predictor import Predictor, predictor_options

__all__ = ["config_predictor", "config_predictions", "paddle_result"]


def config_predictor(cfg: Config, **overrides: Any) -> Predictor:
    """A torch :class:`Predictor` of ``Global.pretrained_model`` with the config's
    ``Infer.transforms`` (else its eval ops), ``Infer.batch_size`` and ``Infer.PostProcess``.

    Args:
        cfg: a validated config.
        **overrides: :class:`PredictorOptions` fields (threads, device, precision...);
            ``config``, ``backend``, ``preprocess`` and ``batch_size`` come from ``cfg`` unless given.

    Raises:
        ValueError when ``Global.pretrained_model`` is not set.

    Example:
        >>> config_predictor(load_config("configs/PULC/person_exists/PPLCNet_x0_25.yaml",
        ...                  ["Global.pretrained_model=output/best_model"]))  # doctest: +SKIP
    """
    weights = cfg.Global.pretrained_model
    if not weights:
        raise ValueError("Global.pretrained_model is not set: give the weights to infer with "
                         "(-o Global.pretrained_model=output/<Arch>/best_model)")
    defaults = {"backend": "torch", "config": cfg, "batch_size": cfg.Infer.batch_size,
                "preprocess": cfg.Infer.transforms}
    opts = predictor_options(None, **{**defaults, **{k: v for k, v in overrides.items() if v is not None}})
    return Predictor(weights, opts)


def config_predictions(cfg: Config, **overrides: Any) -> Iterator[list[dict[str, Any]]]:
    """The results of ``Infer.infer_imgs`` (PaddleClas's ``get_image_list``: a file, or a folder's
    images, recursive and sorted) by :func:`config_predictor`, one list per batch.

    The images are listed before the model is loaded, so a wrong ``Infer.infer_imgs`` fails at once.

    Raises:
        ValueError when ``Infer.infer_imgs`` is unset, missing or holds no image, or
        ``Global.pretrained_model`` is unset.

    Example:
        >>> for batch in config_predictions(cfg, threads=2): print(batch)  # doctest: +SKIP
    """
    images = infer_image_list(cfg.Infer.infer_imgs)
    return config_predictor(cfg, **overrides).predict_batches(images)


def paddle_result(result: dict[str, Any]) -> dict[str, Any]:
    """``result`` with PaddleClas's key names and order: ``class_ids, scores, file_name,
    label_names`` (those present), then any others.

    Example:
        >>> paddle_result({"filename": "a.png", "class_ids": [1], "scores": [0.9], "label_names": ["b"]})
        {'class_ids': [1], 'scores': [0.9], 'file_name': 'a.png', 'label_names': ['b']}
    """
    renamed = {("file_name" if k == "filename" else k): v for k, v in result.items()}
    order = [k for k in ("class_ids", "scores", "file_name", "label_names") if k in renamed]
    return {**{k: renamed[k] for k in order}, **{k: v for k, v in renamed.items() if k not in order}}
