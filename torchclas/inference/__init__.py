"""Inference: ``Predictor`` over exported models (onnxruntime, OpenVINO, torch), ensembles, folders."""

from .backends import BACKENDS, default_backend, open_backend
from .inputs import collect_inputs, list_images
from .ensemble import sigmoid, softmax
from .predictor import Predictor, threshold_result, topk_result

__all__ = ["BACKENDS", "Predictor", "collect_inputs", "default_backend", "list_images", "open_backend",
           "sigmoid", "softmax", "threshold_result", "topk_result"]
