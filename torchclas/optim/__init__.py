"""Optimizers, LR schedules, warmup and param groups from the ``Optimizer`` section.

The trainer needs three calls: ``build_optimizer(cfg.Optimizer, model, lr_mults)``,
``build_lr_scheduler(cfg.Optimizer.lr, optimizer, epochs, steps_per_epoch)`` (then
``scheduler.step()`` per iteration, ``scheduler.epoch_end(metric)`` per epoch) and, for the
plot, ``plot_lr_curve(cfg.Optimizer.lr, epochs, steps_per_epoch, path, scales)``; with
``Optimizer.clip_norm``, ``clip_grad_by_norm(optimizer_params(optimizer), clip_norm)`` before each step.
"""

from .clip import clip_grad_by_norm, optimizer_params
from .lars import LARS
from .lookahead import Lookahead
from .optimizers import OPTIMIZERS, build_optimizer
from .param_groups import build_param_groups, freeze_parameters, layer_depths
from .plot import lr_figure, plot_lr_curve
from .schedules import SCHEDULES, LRScheduler, build_lr_scheduler, decay_start_lr, lr_at_step

__all__ = [
    "LARS", "Lookahead", "LRScheduler", "OPTIMIZERS", "SCHEDULES", "build_lr_scheduler",
    "build_optimizer", "build_param_groups", "clip_grad_by_norm", "decay_start_lr", "freeze_parameters",
    "layer_depths", "lr_at_step", "lr_figure", "optimizer_params", "plot_lr_curve",
]
