"""Time Paddle Inference (oneDNN on the CPU) on a PaddleClas model; runs in the Paddle venv only.

    .venv-paddle/bin/python bench/paddle_infer.py PPLCNet_x1_0 OUT_DIR --threads 2 --precision fp32 bf16

Builds the PaddleClas model (random weights, class_num 1000), saves it with ``paddle.jit.save``
(dynamic batch, 3x224x224), opens it with ``paddle.inference`` (oneDNN, ``threads`` math threads,
IR optimisation on; bf16 through ``enable_mkldnn_bfloat16``), and prints one JSON line per
precision and batch: ``{"model", "precision", "batch", "times": [seconds per pass, ...]}``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import paddle
from paddle import inference
from paddleclas.ppcls.arch import backbone


def save_model(name: str, out: Path, size: int) -> Path:
    paddle.seed(0)
    model = getattr(backbone, name)(class_num=1000)
    model.eval()
    prefix = out / name
    paddle.jit.save(model, str(prefix), input_spec=[paddle.static.InputSpec([None, 3, size, size], "float32", "x")])
    return prefix


def open_predictor(prefix: Path, threads: int, precision: str):
    program = next(p for p in (prefix.with_suffix(".json"), prefix.with_suffix(".pdmodel")) if p.exists())
    config = inference.Config(str(program), str(prefix.with_suffix(".pdiparams")))
    config.disable_gpu()
    config.switch_ir_optim(True)
    (getattr(config, "enable_onednn", None) or config.enable_mkldnn)()
    config.set_cpu_math_library_num_threads(threads)
    if precision == "bf16":
        (getattr(config, "enable_onednn_bfloat16", None) or config.enable_mkldnn_bfloat16)()
    config.disable_glog_info()
    return inference.create_predictor(config)


def time_predictor(predictor, batch: int, size: int, repeats: int, warmup: int) -> list[float]:
    x = np.random.default_rng(0).standard_normal((batch, 3, size, size)).astype("float32")
    handle = predictor.get_input_handle(predictor.get_input_names()[0])
    output = predictor.get_output_handle(predictor.get_output_names()[0])
    times = []
    for i in range(warmup + repeats):
        start = time.perf_counter()
        handle.copy_from_cpu(x)
        predictor.run()
        output.copy_to_cpu()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model")
    parser.add_argument("out", type=Path)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--precision", nargs="+", default=["fp32", "bf16"])
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--repeats", type=int, nargs="+", default=[30, 5], help="timed passes per batch size")
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    prefix = save_model(args.model, args.out, args.size)
    for precision in args.precision:
        predictor = open_predictor(prefix, args.threads, precision)
        for batch, repeats in zip(args.batch, args.repeats):
            times = time_predictor(predictor, batch, args.size, repeats, args.warmup)
            print(json.dumps({"model": args.model, "precision": precision, "batch": batch, "times": times}), flush=True)


if __name__ == "__main__":
    main()
