"""torchclas's predictor against Paddle Inference, side by side on this machine, in one run.

    python bench/vs_paddle.py                       # the three models, 2 threads, 3 rounds
    python bench/vs_paddle.py --models PPLCNet_x1_0 --rounds 1 --skip-agreement

Speed (random weights, 224x224, class_num 1000): Paddle Inference runs in a venv of its own
(``--paddle-venv``, default ``.venv-paddle``, made here with paddlepaddle==3.3.1 and
paddleclas==2.6.0 from PyPI when missing; not a project dependency) on the PaddleClas model
saved by ``paddle.jit.save`` (``bench/paddle_infer.py``: oneDNN, fp32 and bf16). torchclas
exports the same architecture from its zoo (ONNX fp32, ONNX INT8 calibrated on Fashion-MNIST
images) and times ``Predictor.predict_logits`` on each backend and precision. Each round
times every configuration once (median of ``--repeats`` passes); the table shows the median
over rounds, so both sides see the same machine load.

Top-1 agreement with fp32 (``--skip-agreement`` to leave out): each architecture is trained
from scratch for ``--train-seconds`` on Fashion-MNIST at 32x32 (gray to RGB), then exported
with ``--precision bf16`` and ``--precision int8`` by ``torchclas.export.export_model``
(INT8: ``--int8-quantizer``, default ``nncf``, ``--calibration-method``, default ``auto``, and
the fp32 fallback ``--int8-target``, default 99; 0 turns it off), which measures agreement on
the first ``--eval-size`` images of the Fashion-MNIST test set, on the backend the predictor
picks for the file (openvino for bf16 and NNCF's INT8, onnxruntime for onnxruntime's INT8).
Needs ``torchclas data fashion-mnist --out data/fashion_mnist`` first.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from torchclas.configure import config_from_dict  # noqa: E402
from torchclas.engine.checkpoint import save_weights  # noqa: E402
from torchclas.export import cpu_has_bf16, export_model  # noqa: E402
from torchclas.inference import Predictor  # noqa: E402
from torchclas.models import create_model  # noqa: E402
from torchclas.zoo.analysis import model_info  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from paddle_env import ensure_paddle_venv  # noqa: E402

MODELS = ["ResNet50_vd", "PPLCNet_x1_0", "MobileNetV3_large_x1_0"]
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
# (runtime, precision, file): what torchclas runs; "default" marks Predictor's own choice.
# "int8" is NNCF's file (the export default), "int8/ort" onnxruntime's quantisation of the same model.
CONFIGS = [("onnxruntime", "fp32", "fp32.onnx"), ("openvino", "fp32", "fp32.onnx"), ("openvino", "bf16", "fp32.onnx"),
           ("onnxruntime", "int8", "int8.onnx"), ("openvino", "int8", "int8.onnx"),
           ("onnxruntime", "int8/ort", "int8-ort.onnx"), ("openvino", "int8/ort", "int8-ort.onnx"),
           ("torch", "fp32", "weights"), ("torch", "bf16", "weights")]


def eval_ops(size: int, resize: int | None = None) -> list[dict]:
    return [{"DecodeImage": {"to_rgb": True, "channel_first": False}},
            {"ResizeImage": {"resize_short": resize or size}}, {"CropImage": {"size": size}},
            {"NormalizeImage": {"scale": 1 / 255, "mean": MEAN, "std": STD, "order": ""}}, {"ToCHWImage": None}]


def config_for(name: str, weights: Path, size: int, data: Path | None, class_num: int) -> dict:
    dataset = {"transform_ops": eval_ops(size, 256 if size == 224 else size)}
    if data is not None:
        dataset.update(name="ImageNetDataset", image_root=str(data), cls_label_path=str(data / "val_list.txt"))
    return {"Global": {"pretrained_model": str(weights), "image_shape": [3, size, size]},
            "Arch": {"name": name, "class_num": class_num}, "DataLoader": {"Eval": {"dataset": dataset}}}


def time_runner(predictor: Predictor, batch: int, repeats: int, warmup: int = 3) -> float:
    x = np.random.default_rng(0).standard_normal((batch, 3, 224, 224)).astype(np.float32)
    times = []
    for i in range(warmup + repeats):
        start = time.perf_counter()
        predictor.predict_logits(x)
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def prepare_torchclas(name: str, work: Path, calibration: Path) -> dict:
    torch.manual_seed(0)
    weights = work / f"{name}.safetensors"
    save_weights(create_model(name, 1000).eval(), weights)
    cfg = config_from_dict(config_for(name, weights, 224, None, 1000))
    export_model(cfg, work / f"{name}.fp32.onnx")
    # Random weights: agreement means nothing here (it is measured on trained models below).
    for file, quantizer in (("int8", "nncf"), ("int8-ort", "onnxruntime")):
        export_model(cfg, work / f"{name}.{file}.onnx", precision="int8", calibration=calibration,
                     calibration_size=32, eval_list=_tiny_list(work, calibration), max_drop=100, int8_target=0,
                     int8_quantizer=quantizer)
    return {"cfg": cfg, "weights": weights}


def _tiny_list(work: Path, folder: Path) -> Path:
    listing = work / "speed_eval_list.txt"
    listing.write_text("".join(f"{folder}/{i:05d}.png\n" for i in range(8)))
    return listing


def torchclas_round(name: str, prepared: dict, work: Path, threads: int, repeats: tuple[int, int]) -> dict:
    rows = {}
    for runtime, precision, file in CONFIGS:
        if precision == "bf16" and not cpu_has_bf16():
            continue
        path = prepared["weights"] if file == "weights" else work / f"{name}.{file}"
        predictor = Predictor(path, backend=runtime, config=prepared["cfg"], threads=threads,
                              precision=None if precision.startswith("int8") else precision)
        rows[(runtime, precision)] = (time_runner(predictor, 1, repeats[0]), time_runner(predictor, 16, repeats[1]))
        del predictor
    return rows


def paddle_round(python: Path, name: str, work: Path, threads: int, repeats: tuple[int, int]) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "GLOG_minloglevel": "2"}
    done = subprocess.run([str(python), str(ROOT / "bench" / "paddle_infer.py"), name, str(work / "paddle"),
                           "--threads", str(threads), "--repeats", str(repeats[0]), str(repeats[1]),
                           "--precision", *(("fp32", "bf16") if cpu_has_bf16() else ("fp32",))],
                          capture_output=True, text=True, env=env, check=False)
    rows: dict = {}
    for line in done.stdout.splitlines():
        if line.startswith("{"):
            r = json.loads(line)
            rows.setdefault(("paddle-inference", r["precision"]), {})[r["batch"]] = statistics.median(r["times"])
    if not rows:
        raise RuntimeError(f"Paddle Inference run for {name} failed:\n{done.stderr[-3000:]}")
    return {k: (v[1], v[16]) for k, v in rows.items()}


def train_briefly(name: str, data: Path, seconds: float, size: int = 32,
                  label_smoothing: float = 0.1) -> tuple[torch.nn.Module, float]:
    """Train ``name`` from scratch on Fashion-MNIST (gray to RGB, ``size``) for ``seconds``."""
    from torchclas.data.fashion_mnist import DEFAULT_SOURCE, read_idx

    images = read_idx(Path(DEFAULT_SOURCE) / "train-images-idx3-ubyte.gz")
    labels = read_idx(Path(DEFAULT_SOURCE) / "train-labels-idx1-ubyte.gz")
    x = torch.from_numpy(images).float().div(255).unsqueeze(1)
    x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    x = (x.repeat(1, 3, 1, 1) - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
    y = torch.from_numpy(labels.astype(np.int64))
    torch.manual_seed(0)
    model = create_model(name, 10)
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    model.train()
    start, step, seen = time.perf_counter(), 0, 0
    order = torch.randperm(len(x))
    while (elapsed := time.perf_counter() - start) < seconds:
        # Cosine decay over the time budget: a model that ends at a low LR has the wider top-1
        # margins of a trained one, which is what agreement should be measured on.
        for group in optimizer.param_groups:
            group["lr"] = 2e-3 * 0.5 * (1 + math.cos(math.pi * elapsed / seconds))
        idx = order[(step * 128) % len(x):(step * 128) % len(x) + 128]
        loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx], label_smoothing=label_smoothing)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        step, seen = step + 1, seen + len(idx)
    return model.eval(), seen


def agreement(name: str, data: Path, work: Path, seconds: float, eval_size: int, method: str = "auto",
              int8_target: float = 99.0, quantizers: tuple[str, ...] = ("nncf",),
              int8_check_size: int | None = None) -> dict:
    """Train ``name`` briefly, export it in bf16 (where the CPU has it) and in INT8 by each of
    ``quantizers`` (the same trained weights), and return each export's agreement report on the
    first ``eval_size`` test images; the INT8 fallback checks on ``int8_check_size`` of the rest."""
    model, seen = train_briefly(name, data, seconds)
    weights = work / f"{name}.fm.safetensors"
    save_weights(model, weights)
    cfg = config_from_dict(config_for(name, weights, 32, data, 10))
    lines = (data / "val_list.txt").read_text().splitlines()
    listing = work / "fm_test_list.txt"
    listing.write_text("".join(line.replace("test/", f"{data}/test/", 1) + "\n" for line in lines))
    held_out = work / "fm_held_out"  # the test images past the eval list's: the INT8 fallback's check
    held_out.mkdir(exist_ok=True)
    for line in lines[eval_size:]:
        image = data / line.split()[0]
        if not (held_out / image.name).exists():
            (held_out / image.name).symlink_to(image)
    out: dict = {"trained_images": seen, "int8_by": {}}

    def exported(precision: str, **int8) -> dict:
        return export_model(cfg, work / f"{name}.fm.{precision}.onnx", precision=precision, eval_list=listing,
                            eval_size=eval_size, calibration=data / "train", calibration_size=256,
                            calibration_method=method, int8_target=int8_target, int8_check=held_out,
                            int8_check_size=int8_check_size, max_drop=100, **int8)

    if cpu_has_bf16():  # a bf16 export refuses a CPU without it
        out["bf16"] = exported("bf16")["agreement"]
    for quantizer in quantizers:
        report = exported("int8", int8_quantizer=quantizer)
        out["int8_by"][quantizer] = {**report["agreement"], "float_blocks": report["int8"]["float_blocks"],
                                     "check_images": report["int8"]["check_images"],
                                     "check_agreement": report["int8"]["check_agreement"]}
    out["top1_fp32"] = report["agreement"]["top1_fp32"]
    return out


def print_table(name: str, results: dict, flops: float, agree: dict | None) -> None:
    print(f"\n{name}  ({flops / 1e9:.2f} GMACs/image; ratios are to Paddle Inference in the same precision)")
    print(f"{'runtime':18} {'prec':8} {'b1 ms':>8} {'b16 img/s':>10} {'GFLOP/s':>8} {'agree%':>7} "
          f"{'b1 x':>6} {'b16 x':>6}")
    for (runtime, precision), (b1, b16) in results.items():
        paddle = results.get(("paddle-inference", "bf16" if precision == "bf16" else "fp32"))
        throughput = 16 / b16
        ratio1 = f"{b1 / paddle[0]:.2f}" if paddle and runtime != "paddle-inference" else ""
        ratio16 = f"{throughput / (16 / paddle[1]):.2f}" if paddle and runtime != "paddle-inference" else ""
        # measured by export_model on the runtime Predictor picks: openvino for bf16 and NNCF's
        # int8 (the "int8" rows' file), onnxruntime for onnxruntime's ("int8/ort")
        measured = {("openvino", "bf16"): "bf16", ("openvino", "int8"): "nncf",
                    ("onnxruntime", "int8/ort"): "onnxruntime"}
        report = agree and {"bf16": agree.get("bf16"), **agree["int8_by"]}.get(measured.get((runtime, precision)))
        agreed = f"{report['agreement']:.2f}" if report else ""
        print(f"{runtime:18} {precision:8} {1000 * b1:8.2f} {throughput:10.1f} {2 * flops * throughput / 1e9:8.1f} "
              f"{agreed:>7} {ratio1:>6} {ratio16:>6}")
    if agree:
        print(f"  agreement: trained {agree['trained_images']} images (from scratch, 32x32 Fashion-MNIST), fp32 top-1 "
              f"{agree['top1_fp32']:.2f}% on {next(iter(agree['int8_by'].values()))['images']} test images")
        if "bf16" in agree:
            print(f"    bf16: top-1 {agree['bf16']['top1']:.2f}%, agrees on {agree['bf16']['agreement']:.2f}%")
        for quantizer, r in agree["int8_by"].items():
            print(f"    int8 by {quantizer}: top-1 {r['top1']:.2f}%, agrees on {r['agreement']:.2f}% "
                  f"({len(r['float_blocks'])} block(s) kept fp32" + (
                      f"; the fallback's check: {r['check_agreement']:.2f}% of {r['check_images']} held-out images)"
                      if r["check_images"] else ")"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=MODELS)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, nargs=2, default=[20, 4], metavar=("B1", "B16"))
    parser.add_argument("--paddle-venv", type=Path, default=ROOT / ".venv-paddle")
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "fashion_mnist")
    parser.add_argument("--skip-agreement", action="store_true")
    parser.add_argument("--skip-speed", action="store_true", help="only the agreement part (no Paddle needed)")
    parser.add_argument("--train-seconds", type=float, default=300.0,
                        help="per architecture; at 120 s MobileNetV3 reached 70%% and bf16 agreed on 98.5%%")
    parser.add_argument("--eval-size", type=int, default=2000)
    parser.add_argument("--calibration-method", default="auto",
                        choices=["auto", "minmax-mean", "minmax", "percentile", "entropy"])
    parser.add_argument("--int8-quantizer", nargs="+", default=["nncf"], choices=["nncf", "onnxruntime"],
                        help="agreement: quantise the same trained model with each")
    parser.add_argument("--int8-target", type=float, default=99.0, help="export's --int8-target (0: off)")
    parser.add_argument("--int8-check-size", type=int, default=1024,
                        help="export's --int8-check-size, on the test images past --eval-size")
    parser.add_argument("--json", type=Path, default=None, help="also write the raw medians here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if not (args.data / "val_list.txt").is_file():
        raise SystemExit(f"{args.data}: run `torchclas data fashion-mnist --out {args.data}` first")
    python = None if args.skip_speed else ensure_paddle_venv(args.paddle_venv)
    dump = {}
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        speed_models = [] if args.skip_speed else args.models
        prepared = {name: prepare_torchclas(name, work, args.data / "train") for name in speed_models}
        rounds: dict = {name: [] for name in args.models}
        for r in range(0 if args.skip_speed else args.rounds):
            for name in args.models:
                rows = paddle_round(python, name, work, args.threads, tuple(args.repeats))
                rows.update(torchclas_round(name, prepared[name], work, args.threads, tuple(args.repeats)))
                rounds[name].append(rows)
                print(f"round {r + 1}/{args.rounds} {name} done", file=sys.stderr, flush=True)
        for name in args.models:
            keys = rounds[name][0].keys() if rounds[name] else []
            results = {k: tuple(statistics.median(rnd[k][i] for rnd in rounds[name]) for i in (0, 1)) for k in keys}
            agree = None if args.skip_agreement else agreement(name, args.data, work, args.train_seconds, args.eval_size,
                                                                 args.calibration_method, args.int8_target,
                                                                 tuple(args.int8_quantizer), args.int8_check_size)
            flops = model_info(name)["flops"]
            print_table(name, results, flops, agree)
            dump[name] = {"results": {f"{k[0]}/{k[1]}": v for k, v in results.items()}, "agreement": agree}
    if args.json:
        args.json.write_text(json.dumps(dump, indent=1))


if __name__ == "__main__":
    main()
