"""The deployment commands: ``export``, ``infer`` and ``predict-folder``."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any, Callable

from .common import add_config_args, load

__all__ = ["add_commands", "COMMANDS"]

log = logging.getLogger("torchclas")


def add_commands(sub: Any) -> None:
    """The ``export``, ``infer`` and ``predict-folder`` sub-commands."""
    export = sub.add_parser("export", help="export a checkpoint to ONNX with preprocessing metadata")
    add_config_args(export)
    export.add_argument("--out", required=True, help="output file: .onnx, .pt2 (torch-export) or .xml (openvino)")
    export.add_argument("--format", default="onnx", choices=["onnx", "torch-export", "openvino"])
    export.add_argument("--opset", type=int, default=17)
    export.add_argument("--multilabel", action="store_true", default=None,
                        help="store as multi-label (sigmoid scores; default: from Loss.Train)")
    export.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "int8"])
    export.add_argument("--calibration", default=None, metavar="DIR", help="int8: folder of calibration images")
    export.add_argument("--calibration-size", type=int, default=128, help="int8: at most this many images")
    export.add_argument("--int8-quantizer", default="nncf", choices=["nncf", "onnxruntime"],
                        help="int8: NNCF (quantises Conv/Gemm inputs; fastest on openvino) or onnxruntime's "
                             "quantize_static")
    export.add_argument("--calibration-method", default="auto",
                        choices=["auto", "minmax-mean", "minmax", "percentile", "entropy"],
                        help="int8 activation ranges (auto: the quantizer's own; minmax-mean: mean over batches "
                             "of the batch extremes; entropy: onnxruntime only)")
    export.add_argument("--int8-target", type=float, default=99.0, metavar="PCT",
                        help="int8: keep the blocks that quantise worst in fp32 until top-1 agrees with fp32 on "
                             "PCT %% of the check images (0: quantise every block)")
    export.add_argument("--int8-check", default=None, metavar="DIR",
                        help="int8: folder of held-out images (not the eval list) to check the agreement on "
                             "(default: the calibration folder)")
    export.add_argument("--int8-check-size", type=int, default=None, metavar="N",
                        help="int8: at most N check images (default: --calibration-size; more make the check "
                             "less noisy)")
    export.add_argument("--int8-max-float-blocks", type=int, default=None, metavar="N",
                        help="int8: keep at most N blocks in fp32 (default: a quarter of the graph's blocks)")
    export.add_argument("--eval-list", default=None, metavar="FILE",
                        help="bf16/int8: 'path [label]' list to measure top-1 agreement on "
                             "(default DataLoader.Eval's list)")
    export.add_argument("--eval-size", type=int, default=1000, help="bf16/int8: at most this many eval images")
    export.add_argument("--max-drop", type=float, default=1.0,
                        help="bf16/int8: refuse an export whose top-1 drops more than this many points")

    infer = sub.add_parser("infer", help="classify images with exported models (several: an ensemble); "
                                         "with -c CONFIG and no image, Infer.infer_imgs as PaddleClas's infer")
    infer.add_argument("paths", nargs="*", metavar="MODEL... INPUT",
                       help="one or more models (.onnx, .xml, .pt2, or a checkpoint with -c), then images, "
                            "folders, globs or list files; none: -c CONFIG's Global.pretrained_model on its "
                            "Infer.infer_imgs, with Infer.batch_size, Infer.transforms and Infer.PostProcess")
    infer.add_argument("-c", "--config", default=None, help="config for a checkpoint's model")
    infer.add_argument("-o", "--override", action="append", default=[], metavar="Key.path=value")
    _add_predictor_args(infer)
    infer.add_argument("--weights", type=float, nargs="+", default=None,
                       help="ensemble weights, one per model (default equal)")
    infer.add_argument("--json", action="store_true", help="one JSON object per image")

    folder = sub.add_parser("predict-folder", help="predict every image under a folder into a JSON-lines file")
    folder.add_argument("models", nargs="+", metavar="MODEL", help="one or more models (several: an ensemble)")
    folder.add_argument("dir", help="the image folder (recursive)")
    folder.add_argument("--out", required=True, help="output .jsonl, one result per line, written as it goes")
    folder.add_argument("--resume", action="store_true", help="skip the images already in --out")
    folder.add_argument("--workers", type=int, default=2, help="decoding processes (0: in the main process)")
    folder.add_argument("--no-progress", action="store_true")
    folder.add_argument("-c", "--config", default=None, help="config for a checkpoint's model")
    folder.add_argument("-o", "--override", action="append", default=[], metavar="Key.path=value")
    folder.add_argument("--weights", type=float, nargs="+", default=None, help="ensemble weights")
    _add_predictor_args(folder)



def _add_predictor_args(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("--topk", type=int, default=None)
    cmd.add_argument("--backend", default=None, choices=["onnxruntime", "openvino", "torch"],
                     help="default: from the file (onnxruntime for .onnx; openvino for bf16)")
    cmd.add_argument("--precision", default=None, choices=["fp32", "bf16", "int8", "fp16"],
                     help="default: the file's own")
    cmd.add_argument("--device", default="cpu", choices=["cpu", "cuda", "tensorrt"],
                     help="cuda: onnxruntime's CUDA provider, or the GPU with --backend torch; "
                          "tensorrt: onnxruntime's TensorRT provider")
    cmd.add_argument("--threads", type=int, default=None)
    cmd.add_argument("--no-spin", dest="spin", action="store_false",
                     help="onnxruntime: idle threads sleep instead of spin-waiting (for a machine shared with other work)")
    cmd.add_argument("--batch-size", type=int, default=None, help="default 16; Infer.batch_size with -c and no image")
    cmd.add_argument("--fast-decode-resize", action="store_true",
                     help="decode large JPEGs at the DCT scale the resize allows (faster; not bit-exact with eval)")
    cmd.add_argument("--threshold", type=float, default=None,
                     help="ThreshOutput / multi-label models: score to report a class (default: the model's; 0.5)")


def _cmd_export(args: argparse.Namespace) -> None:
    from ..export import export_model

    info = export_model(load(args), args.out, format=args.format, precision=args.precision, opset=args.opset,
                        multilabel=args.multilabel, calibration=args.calibration,
                        calibration_size=args.calibration_size, calibration_method=args.calibration_method,
                        int8_target=args.int8_target, int8_max_float_blocks=args.int8_max_float_blocks,
                        int8_quantizer=args.int8_quantizer, int8_check=args.int8_check,
                        int8_check_size=args.int8_check_size,
                        eval_list=args.eval_list, eval_size=args.eval_size, max_drop=args.max_drop)
    print(f"exported {info['path']} ({info['format']} {info['precision']}, input {info['input_size']}, "
          f"{info['class_num']} classes{', re-parameterised' if info['reparameterized'] else ''}, "
          f"max |fp32 {info['format']} - torch| = {info['max_abs_diff']:.2e})")
    report = info["agreement"]
    if report:
        accuracy = (f", top-1 {report['top1']:.2f}% vs {report['top1_fp32']:.2f}% in fp32"
                    if report["top1"] is not None else "")
        print(f"{info['precision']}: top-1 agrees with fp32 on {report['agreement']:.2f}% of "
              f"{report['images']} images{accuracy} (drop {report['drop']:.2f} points, --max-drop {args.max_drop})")
    if info["int8"] and info["int8"]["float_blocks"]:
        blocks = info["int8"]["float_blocks"]
        print(f"int8: {len(blocks)} block(s) kept in fp32 to reach --int8-target {args.int8_target}% on "
              f"{info['int8']['check_images']} check images ({info['int8']['check_agreement']:.2f}%): "
              f"{', '.join(blocks)}")


def _split_models(paths: list[str]) -> tuple[list[str], list[str]]:
    """Leading model files, then inputs: ``infer m1.onnx m2.onnx img.png`` fuses two models."""
    from pathlib import Path

    model_suffixes = (".onnx", ".xml", ".pt2", ".safetensors", ".pdparams")
    count = 1
    while count < len(paths) - 1 and Path(paths[count]).suffix.lower() in model_suffixes:
        count += 1
    if len(paths) < 2:
        raise ValueError("infer needs a model and at least one image, folder, glob or list file")
    return paths[:count], paths[count:]


def _predictor(args: argparse.Namespace, models: list[str]):
    from ..inference import Predictor

    config = load(args) if args.config else None
    return Predictor(models if len(models) > 1 else models[0], backend=args.backend, config=config,
                     weights=getattr(args, "weights", None), batch_size=args.batch_size or 16, **_run_options(args))


def _run_options(args: argparse.Namespace) -> dict[str, Any]:
    """The Predictor options every ``infer`` / ``predict-folder`` run takes from its flags."""
    return {"topk": args.topk, "threads": args.threads, "precision": args.precision, "device": args.device,
            "threshold": args.threshold, "spin": args.spin, "fast_decode_resize": args.fast_decode_resize}


def _config_batches(args: argparse.Namespace):
    """``infer -c CONFIG`` without images: PaddleClas's tools/infer.py (``Infer.infer_imgs``)."""
    from ..inference.config_infer import config_predictions

    if not args.config:
        raise ValueError("infer needs a model and at least one image, folder, glob or list file; or -c CONFIG "
                         "with Global.pretrained_model and Infer.infer_imgs set")
    return config_predictions(load(args), backend=args.backend, batch_size=args.batch_size, **_run_options(args))


def _cmd_infer(args: argparse.Namespace) -> None:
    from ..inference.config_infer import paddle_result

    if args.paths:
        models, inputs = _split_models(args.paths)
        predictor = _predictor(args, models)
        # "-" reads one encoded image from stdin: `cat a.jpg | torchclas infer m.onnx -`
        sources = [sys.stdin.buffer.read() if entry == "-" else entry for entry in inputs]
        batches, show = predictor.predict_batches(sources if len(sources) > 1 else sources[0]), _format_result
    else:  # as PaddleClas's infer prints: one result dict per image
        batches, show = _config_batches(args), lambda result: str(paddle_result(result))
    failed = total = 0
    for batch in batches:
        for result in batch:
            total += 1
            failed += "error" in result
            print(json.dumps(result) if args.json else show(result), flush=True)
    if failed:
        log.warning("%d of %d images could not be read", failed, total)


def _cmd_predict_folder(args: argparse.Namespace) -> None:
    from ..inference.folder import predict_folder

    summary = predict_folder(_predictor(args, args.models), args.dir, args.out, resume=args.resume,
                             workers=args.workers, progress=not args.no_progress, topk=args.topk)
    for filename, error in summary["errors"]:
        log.warning("unreadable %s: %s", filename, error)
    print(f"wrote {summary['out']}: {summary['predicted']} predicted ({len(summary['errors'])} unreadable), "
          f"{summary['skipped']} already there, {summary['images_per_second']:.1f} img/s")


def _format_result(result: dict[str, Any]) -> str:
    if "error" in result:
        return f"{result['filename']}: ERROR {result['error']}"
    if "class_ids" not in result:  # ScoreOutput: raw outputs
        return f"{result['filename']}: scores {result['scores']}"
    pairs = ", ".join(f"{name} ({cid}) {score:.3f}" for cid, name, score in
                      zip(result["class_ids"], result["label_names"], result["scores"]))
    return f"{result['filename']}: {pairs}"


COMMANDS: dict[str, Callable[[argparse.Namespace], None]] = {
    "export": _cmd_export, "infer": _cmd_infer, "predict-folder": _cmd_predict_folder,
}
