"""PaddleClas ``.pdparams`` → our state dict: a safe reader and a layout-aware converter.

A ``.pdparams`` file is a pickle of ``{structured name: numpy array}``. Pickles can run code,
so :func:`read_pdparams` admits only numpy arrays, dtypes and plain containers, and refuses
anything else naming the offending global.

Conversion pairs PaddleClas's parameters with ours *in registration order*: every family we
build registers its layers in the order PaddleClas does (the ``paddle`` tests prove it per
family against PaddleClas itself), and each pair must agree on its kind (weight, bias, BN
mean/variance) and shape. Layouts differ in two places: Paddle's ``Linear.weight`` is
``[in, out]`` (ours ``[out, in]``), and Paddle's ``downscale_in_infer`` dropout scales the
classifier input by ``1 - p`` at inference, which we fold into the classifier weight.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

__all__ = ["read_pdparams", "convert_paddle_state", "paddle_state_dict", "convert_paddle_arrays", "convert_pdparams",
           "PaddleStateError"]

STRUCTURE_KEY = "StructuredToParameterName@@"
_ALLOWED_GLOBALS = {
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("collections", "OrderedDict"), ("builtins", "tuple"), ("builtins", "list"), ("builtins", "dict"),
}
# Paddle suffix → ours, per parameter kind.
_KIND = {"weight": "weight", "bias": "bias", "_mean": "running_mean", "_variance": "running_var"}


class PaddleStateError(ValueError):
    """A ``.pdparams`` file that is unsafe, unreadable, or does not fit the model."""


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: io.BufferedIOBase, path: Path):
        super().__init__(file)
        self._path = path

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise PaddleStateError(f"{self._path}: refused to unpickle '{module}.{name}': a .pdparams file "
                               "holds only numpy arrays; this file may run code, so it is not loaded")

    def persistent_load(self, pid: Any) -> Any:
        raise PaddleStateError(f"{self._path}: persistent ids are not allowed in a .pdparams file")


def read_pdparams(path: str | Path) -> dict[str, np.ndarray]:
    """Read a PaddleClas ``.pdparams`` file safely: ``{parameter name: array}`` in file order.

    Raises:
        PaddleStateError: the file is not a pickle of arrays (names the global it refused).
    """
    path = Path(path)
    try:
        with path.open("rb") as f:
            state = _RestrictedUnpickler(f, path).load()
    except PaddleStateError:
        raise
    except FileNotFoundError:
        raise PaddleStateError(f"{path}: no such file") from None
    except Exception as exc:
        raise PaddleStateError(f"{path}: not a readable .pdparams file ({type(exc).__name__}: {exc})") from None
    if not isinstance(state, dict):
        raise PaddleStateError(f"{path}: expected a dict of arrays, got {type(state).__name__}")
    arrays = {}
    for key, value in state.items():
        if key == STRUCTURE_KEY:
            continue
        if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], np.ndarray):
            value = value[1]  # paddle.save reduces a Tensor to (name, array)
        if not isinstance(value, np.ndarray):
            raise PaddleStateError(f"{path}: '{key}' is a {type(value).__name__}, not an array")
        arrays[key] = value
    return arrays


def _kind(key: str) -> str:
    suffix = key.rsplit(".", 1)[-1]
    return _KIND.get(suffix, suffix)


def _linear_weights(model: nn.Module) -> set[str]:
    return {f"{name}.weight" for name, m in model.named_modules() if isinstance(m, nn.Linear)}


def convert_paddle_state(model: nn.Module, paddle_state: dict[str, np.ndarray],
                         classifier_scale: dict[str, float] | None = None,
                         reorder: Callable[[list[str]], list[str]] | None = None) -> dict[str, torch.Tensor]:
    """Map PaddleClas parameters onto ``model``'s state dict (see the module docstring).

    Args:
        model: the torchclas model of the same architecture (any ``class_num``: the
            classifier keeps Paddle's shape, and loading skips it when it differs).
        paddle_state: from :func:`read_pdparams`.
        classifier_scale: ``{our weight key: 1 - p}`` for classifiers behind a Paddle
            ``downscale_in_infer`` dropout.
        reorder: maps Paddle's key order onto ours where a family registers layers in
            another order (given Paddle's keys, returns them in our order).

    Raises:
        PaddleStateError: counts, kinds or shapes disagree; names the first pair that does.
    """
    ours = [k for k in model.state_dict() if not k.endswith("num_batches_tracked")]
    theirs = list(paddle_state)
    if reorder is not None:
        theirs = reorder(theirs)
    if len(ours) != len(theirs):
        raise PaddleStateError(f"{type(model).__name__} has {len(ours)} tensors, the .pdparams {len(theirs)}: "
                               "the file is for another architecture")
    own_state, linear = model.state_dict(), _linear_weights(model)
    out: dict[str, torch.Tensor] = {}
    for our_key, their_key in zip(ours, theirs):
        array = paddle_state[their_key]
        if our_key in linear and array.ndim == 2:
            array = array.T
        elif our_key in linear and array.ndim == 4 and array.shape[2:] == (1, 1):
            array = array[:, :, 0, 0]  # a 1x1-conv classifier (ReXNet) is our Linear
        if _kind(our_key) != _kind(their_key) or tuple(array.shape) != tuple(own_state[our_key].shape):
            raise PaddleStateError(f"cannot pair Paddle '{their_key}' {tuple(paddle_state[their_key].shape)} "
                                   f"with '{our_key}' {tuple(own_state[our_key].shape)}")
        tensor = torch.from_numpy(np.ascontiguousarray(array)).to(own_state[our_key].dtype)
        out[our_key] = tensor * classifier_scale[our_key] if classifier_scale and our_key in classifier_scale \
            else tensor
    for key in own_state:
        if key.endswith("num_batches_tracked"):
            out[key] = torch.zeros_like(own_state[key])
    return out


def paddle_state_dict(path: str | Path, model_name: str, **model_kwargs: Any) -> dict[str, torch.Tensor]:
    """Read a PaddleClas ``.pdparams`` for ``model_name`` and return our state dict for it.

    The classifier keeps the file's class count; ``model_kwargs`` go to the builder (e.g. an
    architecture switch the file was trained with).
    """
    return convert_paddle_arrays(read_pdparams(path), model_name, **model_kwargs)


def convert_paddle_arrays(paddle_state: dict[str, np.ndarray], model_name: str,
                          **model_kwargs: Any) -> dict[str, torch.Tensor]:
    """:func:`paddle_state_dict` for arrays already read by :func:`read_pdparams`."""
    from .. import MODEL_TABLE, create_model

    reorder = MODEL_TABLE[model_name].paddle_reorder
    in_our_order = {k: paddle_state[k] for k in reorder(list(paddle_state))} if reorder else paddle_state
    model = create_model(model_name, class_num=_paddle_class_num(in_our_order), **model_kwargs)
    return convert_paddle_state(model, paddle_state, **MODEL_TABLE[model_name].paddle_options(model))


def convert_pdparams(path: str | Path, model_name: str, out: str | Path | None = None,
                     **model_kwargs: Any) -> Path:
    """Convert a PaddleClas ``.pdparams`` for ``model_name`` into a safetensors file.

    Returns the written path (default: the input path with ``.safetensors``); see
    :func:`paddle_state_dict` for ``model_kwargs``.

    Example:
        >>> convert_pdparams("ResNet50_vd_pretrained.pdparams", "ResNet50_vd")  # doctest: +SKIP
    """
    from safetensors.torch import save_file

    path = Path(path)
    state = paddle_state_dict(path, model_name, **model_kwargs)
    out = Path(out) if out is not None else path.with_suffix(".safetensors")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp),
              metadata={"source": str(path.name), "model": model_name})
    tmp.replace(out)
    return out


def _paddle_class_num(paddle_state: dict[str, np.ndarray]) -> int:
    """The file's class count: the output width of its last 2-D (Linear) weight, or of its
    last conv when the classifier is a 1×1 conv; 1000 when neither is found."""
    for key in reversed(list(paddle_state)):
        array = paddle_state[key]
        if key.endswith("weight") and array.ndim == 2:
            return int(array.shape[1])
        if key.endswith("weight") and array.ndim == 4 and array.shape[2:] == (1, 1):
            return int(array.shape[0])
    return 1000
