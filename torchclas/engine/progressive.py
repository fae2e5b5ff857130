"""``Global.train_mode: progressive``: PaddleClas's progressive learning (EfficientNetV2).

Training runs in 4 stages of equal length (PaddleClas's ``train_progressive.py``): epoch ``e``
of ``E`` is in stage ``s``, the number of milestones ``int(E * (i + 1) / 4)`` it is past. Each
stage trains at its own image size, augmentation strength and dropout, all growing:

- every train op with ``progress_size`` (``RandCropImage``) crops at ``progress_size[s]``;
- every train op with ``progress_magnitude`` (``RandAugmentV2``) uses ``magnitude = progress_magnitude[s]``;
- a model listing ``progressive_drop_rates`` (EfficientNetV2_S) gets ``drop_rate = progressive_drop_rates[s]``.

When the stage changes, the train loader is rebuilt with the stage's ops (`ProgressiveHook`).
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from ..config.errors import ConfigError
from ..config.schema import SplitConfig

__all__ = ["NUM_STAGES", "stage_of", "stage_ops", "stage_split", "ProgressiveHook"]

log = logging.getLogger("torchclas")

NUM_STAGES = 4
_PROGRESS_KEYS = {"progress_size": "size", "progress_magnitude": "magnitude"}


def stage_of(epoch: int, epochs: int, stages: int = NUM_STAGES) -> int:
    """The stage (0-based) of 1-based ``epoch`` in a run of ``epochs`` epochs, as PaddleClas counts.

    Example:
        >>> [stage_of(e, 8) for e in range(1, 9)]
        [0, 0, 1, 1, 2, 2, 3, 3]
        >>> stage_of(1, 1)
        3
    """
    return sum(epoch > int(epochs * (i + 1) / stages) for i in range(stages))


def stage_ops(ops: list[dict[str, Any]] | None, stage: int, where: str = "DataLoader.Train.dataset.transform_ops"
              ) -> list[dict[str, Any]]:
    """``ops`` with each ``progress_*`` list's entry for ``stage`` set as the op's value.

    Example:
        >>> stage_ops([{"RandCropImage": {"size": 8, "progress_size": [8, 16, 24, 32]}}], 2)
        [{'RandCropImage': {'size': 24, 'progress_size': [8, 16, 24, 32]}}]
    """
    out = []
    for i, op in enumerate(ops or []):
        staged = {}
        for name, params in op.items():
            params = dict(params or {})
            for key, target in _PROGRESS_KEYS.items():
                if key in params:
                    values = params[key]
                    if not isinstance(values, list) or len(values) != NUM_STAGES:
                        raise ConfigError(f"{where}[{i}].{name}.{key}: progressive training needs "
                                          f"{NUM_STAGES} values, one per stage, got {values!r}")
                    params[target] = values[stage]
            staged[name] = params
        out.append(staged)
    return out


def stage_split(split: SplitConfig, stage: int) -> SplitConfig:
    """The ``DataLoader.Train`` section of ``stage``: its op list with the stage's values.

    Raises ``ConfigError`` when no op has a ``progress_size`` or ``progress_magnitude``.
    """
    ops = split.dataset.transform_ops
    if not any(key in (params or {}) for op in ops or [] for params in op.values() for key in _PROGRESS_KEYS):
        raise ConfigError("Global.train_mode: progressive needs a DataLoader.Train transform op with "
                          "progress_size (RandCropImage) or progress_magnitude (RandAugmentV2)")
    dataset = split.dataset.model_copy(update={"transform_ops": stage_ops(ops, stage)})
    return split.model_copy(update={"dataset": dataset})


def _stage_values(ops: list[dict[str, Any]]) -> dict[str, Any]:
    found = {}
    for op in ops:
        for params in op.values():
            for key, target in _PROGRESS_KEYS.items():
                if key in params:
                    found[target] = params[target]
    return found


class ProgressiveHook:
    """Hook: at each epoch's setup, when its stage differs from the last one, rebuild the train
    loader with the stage's ops (``make_loader(split) -> DeviceLoader``) and set the model's
    dropout (see the module docstring).

    Example:
        >>> hook = ProgressiveHook(cfg.DataLoader.Train, lambda split: build_dataloader(split), 300)  # doctest: +SKIP
    """

    def __init__(self, split: SplitConfig, make_loader: Callable[[SplitConfig], Any], epochs: int):
        stage_split(split, 0)  # checks the op list before training starts
        self.split, self.make_loader, self.epochs = split, make_loader, epochs
        self.stage: int | None = None

    def on_epoch_setup(self, trainer, epoch: int) -> None:
        """Switch to the stage of ``epoch`` (at the first epoch run, and when a stage ends)."""
        stage = stage_of(epoch, self.epochs)
        if stage == self.stage:
            return
        split = stage_split(self.split, stage)
        trainer.train_loader = self.make_loader(split)
        net = trainer.state.net
        rates = getattr(net, "progressive_drop_rates", None)
        if rates is not None:
            net.drop_rate = float(rates[stage])
        self.stage = stage
        values = ", ".join(f"{k}={v}" for k, v in _stage_values(split.dataset.transform_ops).items())
        log.info("progressive training: stage %d/%d from epoch %d (%s, dropout %s)", stage + 1, NUM_STAGES, epoch,
                 values, getattr(net, "drop_rate", "unchanged") if rates is not None else "unchanged")
