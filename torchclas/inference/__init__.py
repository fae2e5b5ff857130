"""Inference: ``Predictor`` over an exported ONNX file (onnxruntime) or weights + config (torch)."""

from .backends import BACKENDS
from .inputs import collect_inputs, list_images
from .predictor import Predictor, softmax, topk_result

__all__ = ["BACKENDS", "Predictor", "collect_inputs", "list_images", "softmax", "topk_result"]
