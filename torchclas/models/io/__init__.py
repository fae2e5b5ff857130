"""Weights in and out of models: local weights files, PaddleClas ``.pdparams`` conversion.

* :mod:`.weights`: find (:func:`resolve_weights_path`), read (:func:`read_state_dict`,
  never unpickling untrusted objects) and load (:func:`load_pretrained`) local weights files.
* :mod:`.paddle_weights`: read a ``.pdparams`` safely and convert it to our layout.
* :mod:`.paddle_order`: generic maps from PaddleClas's parameter order onto ours.

torchclas never downloads weights, so there is no download cache: a pretrained model is a
local path given by the user.
"""

from .weights import WeightsFileError, load_pretrained, read_state_dict, resolve_weights_path

__all__ = ["WeightsFileError", "load_pretrained", "read_state_dict", "resolve_weights_path"]
