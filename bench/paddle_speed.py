"""The PaddleClas side of ``bench/speed.py``; runs in the Paddle venv (paddlepaddle + paddleclas).

    python bench/paddle_speed.py photos OUT            # JPEGs from scikit-learn's sample photos
    python bench/paddle_speed.py train ResNet18_vd --batch 32 --steps 8 --threads 2
    python bench/paddle_speed.py ops LIST --workers 2 --size 224

Each command prints one JSON object on its last line.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np


def photos(out: Path) -> dict:
    """scikit-learn's two sample photographs (a paddleclas dependency ships them), re-encoded as
    500x375 and 1024x768 JPEGs (quality 90)."""
    import cv2
    from sklearn.datasets import load_sample_image

    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for size in ((500, 375), (1024, 768)):
        paths = []
        for name in ("china", "flower"):
            rgb = load_sample_image(f"{name}.jpg")
            image = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), size, interpolation=cv2.INTER_AREA)
            path = out / f"{name}_{size[0]}x{size[1]}.jpg"
            cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 90])
            paths.append(str(path))
        written[f"{size[0]}x{size[1]}"] = paths
    return written


def train(name: str, batch: int, size: int, steps: int, threads: int) -> dict:
    """Images/s of PaddleClas dygraph training steps (SGD momentum, random data, fp32, oneDNN)."""
    import paddle
    from paddleclas.ppcls.arch import backbone

    paddle.set_device("cpu")
    paddle.set_flags({"FLAGS_use_mkldnn": True})
    paddle.base.core.set_num_threads(threads)
    model = getattr(backbone, name)(class_num=1000)
    optimizer = paddle.optimizer.Momentum(learning_rate=0.1, momentum=0.9, parameters=model.parameters(),
                                          weight_decay=1e-4)
    x = paddle.randn([batch, 3, size, size])
    y = paddle.randint(0, 1000, [batch, 1])
    model.train()
    times = []
    for _ in range(steps):
        began = time.perf_counter()
        loss = paddle.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()
        float(loss)
        times.append(time.perf_counter() - began)
    kept = sorted(times[2:])
    return {"ips": batch / kept[len(kept) // 2], "steps": steps}


_OPS = None


def _init(size: int) -> None:
    global _OPS
    # the pip package leaves ppcls/data out; deploy/python/preprocess.py carries the same cv2 ops
    from paddleclas.deploy.python.preprocess import DecodeImage, NormalizeImage, RandCropImage, RandFlipImage

    _OPS = [DecodeImage(to_rgb=True, channel_first=False), RandCropImage(size=size), RandFlipImage(flip_code=1),
            NormalizeImage(scale=1.0 / 255.0, mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225], order="")]


def _one(path: str) -> int:
    with open(path, "rb") as handle:
        sample = handle.read()
    for op in _OPS:
        sample = op(sample)
    return int(np.asarray(sample).size)


def ops(paths: list[str], workers: int, size: int, seconds: float) -> dict:
    """Images/s of PaddleClas's decode + RandCropImage + RandFlipImage + NormalizeImage (cv2)
    in ``workers`` processes, over ``paths`` repeated for about ``seconds``."""
    os.environ["OMP_NUM_THREADS"] = "1"
    with Pool(workers, initializer=_init, initargs=(size,)) as pool:
        pool.map(_one, paths * 2)  # warm up
        done, began = 0, time.perf_counter()
        while time.perf_counter() - began < seconds:
            done += len(pool.map(_one, paths * 16, chunksize=4))
        return {"ips": done / (time.perf_counter() - began), "images": done}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("photos").add_argument("out", type=Path)
    t = sub.add_parser("train")
    t.add_argument("model")
    t.add_argument("--batch", type=int, default=32)
    t.add_argument("--size", type=int, default=224)
    t.add_argument("--steps", type=int, default=8)
    t.add_argument("--threads", type=int, default=2)
    o = sub.add_parser("ops")
    o.add_argument("paths", nargs="+")
    o.add_argument("--workers", type=int, default=2)
    o.add_argument("--size", type=int, default=224)
    o.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    if args.command == "photos":
        result = photos(args.out)
    elif args.command == "train":
        result = train(args.model, args.batch, args.size, args.steps, args.threads)
    else:
        result = ops(args.paths, args.workers, args.size, args.seconds)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
