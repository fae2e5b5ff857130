"""Inference: ``Predictor`` over exported models (onnxruntime, OpenVINO, torch), ensembles, folders.

The core that ``export`` builds on (it imports nothing from ``export``):

- :mod:`.sessions`: the one onnxruntime session factory, OpenVINO compile properties;
- :mod:`.metadata`: the ``torchclas`` metadata every export carries, built and read back;
- :mod:`.preprocess`: a model's preprocessing from its metadata;
- :mod:`.backends`: the runtimes behind ``Predictor``; :mod:`.predictor`: ``Predictor`` and
  ``PredictorOptions``; :mod:`.postprocess`: PaddleClas's ``Topk``, ``ThreshOutput``,
  ``MultiLabelThreshOutput``, ``ScoreOutput`` (``POSTPROCESSES``); :mod:`.config_infer`:
  ``torchclas infer -c CONFIG`` (``Infer.infer_imgs``); :mod:`.ensemble`, :mod:`.inputs`,
  :mod:`.folder` (``predict-folder``).

onnx, onnxruntime and openvino are imported only when a model is opened.
"""

from .backends import BACKENDS, default_backend, open_backend
from .ensemble import sigmoid, softmax
from .inputs import collect_inputs, list_images
from .metadata import parse_metadata, read_onnx_metadata, read_openvino_metadata, read_pt2_metadata
from .config_infer import config_predictions, config_predictor
from .postprocess import POSTPROCESSES, build_postprocess, threshold_result, topk_result
from .predictor import Predictor, PredictorOptions
from .preprocess import build_preprocess, preprocess_image, with_decode
from .sessions import onnxruntime_session

__all__ = ["BACKENDS", "POSTPROCESSES", "Predictor", "PredictorOptions", "build_postprocess", "build_preprocess",
           "collect_inputs", "config_predictions", "config_predictor", "default_backend",
           "list_images", "onnxruntime_session", "open_backend", "parse_metadata", "preprocess_image",
           "read_onnx_metadata", "read_openvino_metadata", "read_pt2_metadata", "sigmoid", "softmax",
           "threshold_result", "topk_result", "with_decode"]
