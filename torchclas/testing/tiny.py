"""A tiny, learnable image data set in PaddleClas layout and a complete config for it.

Used by the test suite, the fault-injection suite and ``bench/faults.py``: three classes whose
dominant colour channel is the label, 32×32 PNGs, ``train_list.txt``/``val_list.txt``/
``label_list.txt``. A few epochs of PPLCNet_x0_25 learn it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

__all__ = ["CLASSES", "MEAN_STD", "make_image", "write_dataset", "tiny_config_dict"]

CLASSES = ["red", "green", "blue"]
MEAN_STD = {"scale": "1.0/255.0", "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25], "order": ""}


def make_image(label: int, rng: np.random.Generator, size: int = 32) -> Image.Image:
    """A noisy image whose dominant colour channel is its label."""
    pixels = rng.integers(0, 90, size=(size, size, 3), dtype=np.uint8)
    pixels[..., label] = rng.integers(150, 255, size=(size, size), dtype=np.uint8)
    return Image.fromarray(pixels)


def write_dataset(root: Path, n_train: int = 48, n_val: int = 24, seed: int = 0) -> Path:
    """PNG images under ``root/{train,val}`` plus train_list/val_list/label_list files.

    Example:
        >>> data = write_dataset(Path("/tmp/tiny"))  # doctest: +SKIP
    """
    rng = np.random.default_rng(seed)
    for split, count in (("train", n_train), ("val", n_val)):
        (root / split).mkdir(parents=True, exist_ok=True)
        lines = []
        for i in range(count):
            label = i % len(CLASSES)
            make_image(label, rng).save(root / split / f"{i:04d}.png")
            lines.append(f"{split}/{i:04d}.png {label}")
        (root / f"{split}_list.txt").write_text("\n".join(lines) + "\n")
    (root / "label_list.txt").write_text("".join(f"{i} {c}\n" for i, c in enumerate(CLASSES)))
    return root


def tiny_config_dict(data: Path, output: Path, arch: str = "PPLCNet_x0_25", epochs: int = 2) -> dict:
    """A complete PaddleClas-style config for the data set ``write_dataset`` made in ``data``.

    Example:
        >>> cfg = tiny_config_dict(Path("/tmp/tiny"), Path("/tmp/out"), epochs=3)
        >>> cfg["Global"]["epochs"], cfg["Arch"]["class_num"]
        (3, 3)
    """
    eval_ops = [{"DecodeImage": {"to_rgb": True, "channel_first": False}},
                {"ResizeImage": {"resize_short": 36}}, {"CropImage": {"size": 32}},
                {"NormalizeImage": dict(MEAN_STD)}, {"ToCHWImage": None}]
    split = lambda name, ops, shuffle: {  # noqa: E731
        "dataset": {"name": "ImageNetDataset", "image_root": str(data),
                    "cls_label_path": str(data / f"{name}_list.txt"), "transform_ops": ops},
        "sampler": {"name": "DistributedBatchSampler", "batch_size": 8, "drop_last": False,
                    "shuffle": shuffle},
        "loader": {"num_workers": 0}}
    train_ops = [{"DecodeImage": {"to_rgb": True}}, {"RandCropImage": {"size": 32, "scale": [0.5, 1.0]}},
                 {"RandFlipImage": {"flip_code": 1}}, {"NormalizeImage": dict(MEAN_STD)}]
    return {
        "Global": {"output_dir": str(output), "epochs": epochs, "seed": 7, "device": "cpu",
                   "num_threads": 1, "image_shape": [3, 32, 32], "precision": "fp32"},
        "Arch": {"name": arch, "class_num": len(CLASSES)},
        "Loss": {"Train": [{"CELoss": {"weight": 1.0, "epsilon": 0.1}}], "Eval": [{"CELoss": {"weight": 1.0}}]},
        "Optimizer": {"name": "Momentum", "momentum": 0.9,
                      "lr": {"name": "Cosine", "learning_rate": 0.05, "warmup_epoch": 1},
                      "regularizer": {"name": "L2", "coeff": 1e-4}},
        "DataLoader": {"Train": split("train", train_ops, True), "Eval": split("val", eval_ops, False)},
        "Infer": {"transforms": eval_ops, "PostProcess": {"name": "Topk", "topk": 2,
                                                          "class_id_map_file": str(data / "label_list.txt")}},
        "Metric": {"Train": [{"TopkAcc": {"topk": [1, 2]}}], "Eval": [{"TopkAcc": {"topk": [1, 2]}}]},
    }
