"""torchclas: image classification on PyTorch that reads PaddleClas configs and names.

Every CLI command is one import away::

    import torchclas
    cfg = torchclas.load_config("configs/quickstart/fashion_mnist.yaml", ["Global.epochs=1"])
    torchclas.train(cfg)
    torchclas.Predictor("model.onnx").predict("image.png")

The names below are imported on first use, so ``import torchclas.inference`` (or ``.config``)
does not pull in the training engine, timm or onnx.
"""

from __future__ import annotations

import importlib

from .utils.version import __version__

# public name -> the module that defines it
_PUBLIC = {
    "Config": ".config", "ConfigError": ".config",
    "load_config": ".configure", "config_from_dict": ".configure",
    "train": ".engine", "evaluate": ".engine",
    "create_model": ".models", "list_models": ".models",
    "Predictor": ".inference",
    "export_onnx": ".export", "export_model": ".export",
}


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'torchclas' has no attribute '{name}'")
    value = getattr(importlib.import_module(_PUBLIC[name], __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_PUBLIC))


__all__ = [*_PUBLIC, "__version__"]
