"""Model-zoo tooling: sizes, speed and accuracy curves of the model table.

- :mod:`.analysis`: parameter and FLOP counts, the ``models/zoo_stats.json`` file that stores them
  (``python -m torchclas.zoo.analysis --write-stats``) and ``model_info`` for ``torchclas models``.
- :mod:`.benchmark`: latency and throughput per batch size, torch and onnxruntime (``torchclas benchmark``).
- :mod:`.plot`: top-1 against latency, parameters and FLOPs from a benchmark CSV (``torchclas plot-zoo``).

It sits above export in the layering (it may import models, export, inference, config and utils);
the CLI wiring of these commands is ``torchclas/cli_zoo.py``. Nothing is imported here, so
``import torchclas.zoo.analysis`` does not load onnxruntime or matplotlib.
"""
