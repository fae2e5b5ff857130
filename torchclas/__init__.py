"""torchclas: image classification on PyTorch that reads PaddleClas configs and names.

Every CLI command is one import away::

    import torchclas
    cfg = torchclas.load_config("configs/quickstart/fashion_mnist.yaml", ["Global.epochs=1"])
    torchclas.train(cfg)
    torchclas.Predictor("model.onnx").predict("image.png")
"""

__version__ = "0.1.0"

from .config import Config, ConfigError, load_config  # noqa: E402
from .engine import evaluate, train  # noqa: E402
from .models import create_model, list_models  # noqa: E402


def __getattr__(name: str):
    # export/inference pull in onnx and onnxruntime: import them only when asked for.
    if name == "Predictor":
        from .inference import Predictor
        return Predictor
    if name in ("export_onnx", "export_model"):
        from . import export
        return getattr(export, name)
    raise AttributeError(f"module 'torchclas' has no attribute '{name}'")


__all__ = ["Config", "ConfigError", "load_config", "train", "evaluate", "create_model",
           "list_models", "Predictor", "export_onnx", "export_model", "__version__"]
