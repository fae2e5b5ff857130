"""Build a PaddleClas model with random weights and write what the ``paddle`` tests compare.

Runs in the Paddle venv (``make test-paddle`` makes it), never in ours:

    .venv-paddle/bin/python tests/paddle/reference.py ResNet50_vd OUT_DIR --size 64 --class-num 10

writes ``OUT_DIR/model.pdparams`` (random weights, random BN statistics), ``input.npy`` (a
random batch of 2) and ``logits.npy`` (PaddleClas's eval-mode output for it).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import paddle
from paddleclas.ppcls.arch import backbone


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model")
    parser.add_argument("out", type=Path)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--class-num", type=int, default=10)
    parser.add_argument("--kwargs", default="{}", help="JSON of extra builder arguments")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                        help="float64: run the reference in double precision (deep nets; see harness)")
    args = parser.parse_args()
    paddle.seed(0)
    rng = np.random.default_rng(0)
    model = getattr(backbone, args.model)(class_num=args.class_num, **json.loads(args.kwargs))
    for name, tensor in model.state_dict().items():  # BN statistics away from 0/1 so their mapping is tested
        if name.endswith("_mean"):
            tensor.set_value(rng.normal(0, 0.1, tensor.shape).astype("float32"))
        elif name.endswith("_variance"):
            tensor.set_value(rng.uniform(0.5, 1.5, tensor.shape).astype("float32"))
    if args.dtype == "float64":  # float32 values held in float64: conversion to float32 stays exact
        model.to(dtype="float64")
    model.eval()
    x = rng.normal(size=(2, 3, args.size, args.size)).astype("float32").astype(args.dtype)
    logits = model(paddle.to_tensor(x))
    if isinstance(logits, dict):
        logits = logits["logits"] if "logits" in logits else logits["output"]
    if isinstance(logits, (list, tuple)):  # GoogLeNet: [main, aux1, aux2]
        logits = logits[0]
    args.out.mkdir(parents=True, exist_ok=True)
    paddle.save(model.state_dict(), str(args.out / "model.pdparams"))
    np.save(args.out / "input.npy", x)
    np.save(args.out / "logits.npy", logits.numpy())


if __name__ == "__main__":
    main()
