"""Engine: the ``Trainer`` (epochs of training steps, evaluation, hooks around the steps),
checkpoints, resume, and the ``metrics.jsonl`` log.

``train(cfg)`` (`run`) sets a run up and calls ``Trainer.fit`` (`trainer`); the step seam is
``outputs = model(batch.images)``, ``losses = criterion(outputs, batch)``,
``metrics.update(outputs, batch)``; what runs around it are hooks (`hooks`).
"""

from .checkpoint import load_checkpoint, save_checkpoint, save_weights
from .evaluate import evaluate, run_eval
from .metrics_log import MetricsLog
from .run import train
from .trainer import Trainer

__all__ = ["train", "Trainer", "evaluate", "run_eval", "load_checkpoint", "save_checkpoint", "save_weights",
           "MetricsLog"]
