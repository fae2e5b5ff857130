"""Weights in and out of models: local weights files, PaddleClas ``.pdparams`` conversion.

* :mod:`.weights`: find (:func:`resolve_weights_path`), read (:func:`read_state_dict`,
  never unpickling untrusted objects) and load (:func:`load_pretrained`) local weights files.
* :mod:`.paddle_weights`: read a ``.pdparams`` safely and convert it to our layout.
* :mod:`.paddle_order`: generic maps from PaddleClas's parameter order onto ours.
* :mod:`.pretrained`: ``pretrained: True`` / a URL / a path -> a local file (:func:`pretrained_path`),
  from the official URL table ``paddle_urls.json`` (``tools/paddle_urls.py`` generates it).
* :mod:`.download`: the resumable, checked download cache under ``$TORCHCLAS_HOME``.
"""

from .download import DownloadError, cache_home
from .pretrained import is_url, pretrained_path
from .weights import WeightsFileError, load_pretrained, read_state_dict, resolve_weights_path

__all__ = ["DownloadError", "WeightsFileError", "cache_home", "is_url", "load_pretrained", "pretrained_path",
           "read_state_dict", "resolve_weights_path"]
