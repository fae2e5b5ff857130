"""Engine: the training loop, evaluation, checkpoints and metrics."""

from .checkpoint import load_checkpoint, save_checkpoint, save_weights
from .evaluate import evaluate, run_eval
from .metrics import METRICS, MetricsLog, TopkAcc
from .trainer import train

__all__ = ["train", "evaluate", "run_eval", "load_checkpoint", "save_checkpoint", "save_weights",
           "METRICS", "MetricsLog", "TopkAcc"]
