"""JPEGs decoded where the batch lands (``loader.decode_on_device``; data/decode/on_device.py)."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from tests.conftest import tiny_config_dict
from tests.test_cli_e2e import read_metrics
from torchclas.configure import config_from_dict
from torchclas.data.datasets import BadImageError
from torchclas.data.decode.on_device import EncodedBatch
from torchclas.data.loader import DeviceLoader, build_dataloader
from torchclas.testing.tiny import make_image

pytestmark = pytest.mark.filterwarnings("ignore:The image decoding and encoding capabilities:DeprecationWarning")


def _jpeg(image: Image.Image, mode: str = "RGB", **save) -> bytes:
    buffer = io.BytesIO()
    image.convert(mode).resize((48, 40)).save(buffer, "JPEG", quality=90, **save)
    return buffer.getvalue()


@pytest.fixture
def jpeg_data(tmp_path):
    """24 train images: colour and gray JPEGs, PNGs, EXIF-rotated JPEGs, one truncated JPEG."""
    rng = np.random.default_rng(0)
    root = tmp_path / "data"
    (root / "train").mkdir(parents=True)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° on display
    lines = []
    for i in range(24):
        label = i % 3
        image = make_image(label, rng, size=48)
        name = f"train/{i:03d}.{'png' if i % 6 == 2 else 'jpg'}"
        if i % 6 == 2:
            image.save(root / name)
        else:
            data = _jpeg(image, "L" if i % 6 == 3 else "RGB", **({"exif": exif} if i % 6 == 4 else {}))
            (root / name).write_bytes(data[: len(data) // 2] if i == 11 else data)
        lines.append(f"{name} {label}")
    (root / "train_list.txt").write_text("\n".join(lines) + "\n")
    (root / "label_list.txt").write_text("0 red\n1 green\n2 blue\n")
    return root


def _config(data, tmp_path, **loader):
    raw = tiny_config_dict(data, tmp_path / "out", epochs=1)
    for split in ("Train", "Eval"):
        raw["DataLoader"][split]["dataset"]["cls_label_path"] = str(data / "train_list.txt")
        raw["DataLoader"][split]["loader"].update(loader)
    return config_from_dict(raw)


def _epoch(loader, device=None):
    loader.batch_sampler.set_epoch(1)
    out = []
    for images, labels, bad in loader.on(device or torch.device("cpu")):
        out.append((images, labels.cpu(), sorted(bad)))
    return out


@pytest.mark.parametrize("split", ["Train", "Eval"])
def test_equals_the_worker_decode_exactly_on_cpu(jpeg_data, tmp_path, split):
    exact = build_dataloader(getattr(_config(jpeg_data, tmp_path, fast_decode=False).DataLoader, split), seed=3)
    deferred = build_dataloader(getattr(_config(jpeg_data, tmp_path, decode_on_device=True).DataLoader, split), seed=3)
    assert isinstance(deferred, DeviceLoader) and deferred.finish is not None
    raw = next(iter(deferred.worker_batches()))[0]
    assert isinstance(raw, EncodedBatch)
    kinds = [type(item).__name__ for item in raw.items]
    assert "EncodedImage" in kinds and "Tensor" in kinds  # PNG and EXIF-rotated files decode in the worker
    a, b = _epoch(exact), _epoch(deferred)
    assert len(a) == len(b) == 3
    for (xa, ya, bad_a), (xb, yb, bad_b) in zip(a, b):
        assert xa.dtype == xb.dtype == torch.float32 and xa.shape == xb.shape
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
        assert bad_a == bad_b
    bad = [path for _, _, batch_bad in b for path, _ in batch_bad]
    assert bad == [str(jpeg_data / "train/011.jpg")]


def test_plain_iteration_and_workers_give_the_same_batches(jpeg_data, tmp_path):
    cfg = _config(jpeg_data, tmp_path, decode_on_device=True)
    loader = build_dataloader(cfg.DataLoader.Train, seed=3)
    loader.batch_sampler.set_epoch(1)
    iterated = [(x, y) for x, y, _ in loader]
    cfg.DataLoader.Train.loader.num_workers, cfg.DataLoader.Train.loader.persistent_workers = 2, False
    with_workers = _epoch(build_dataloader(cfg.DataLoader.Train, seed=3))
    for (xa, ya), (xb, yb, _) in zip(iterated, with_workers):
        assert xa.shape == (len(ya), 3, 32, 32) and torch.equal(xa, xb) and torch.equal(ya, yb)


def test_a_jpeg_no_decoder_reads_is_reported_or_stops_strict(jpeg_data, tmp_path):
    cfg = _config(jpeg_data, tmp_path, decode_on_device=True)
    truncated = str(jpeg_data / "train/011.jpg")
    loader = build_dataloader(cfg.DataLoader.Eval, seed=3)
    (_, labels, bad), = [b for b in _epoch(loader) if b[2]]
    assert len(labels) == 7 and bad[0][0] == truncated and bad[0][1]
    strict = build_dataloader(cfg.DataLoader.Eval, seed=3, strict=True)
    with pytest.raises(BadImageError, match="011.jpg"):
        _epoch(strict)


def test_ops_that_need_the_decoded_image_are_refused(jpeg_data, tmp_path):
    cfg = _config(jpeg_data, tmp_path, decode_on_device=True)
    ops = cfg.DataLoader.Train.dataset.transform_ops
    ops.insert(2, {"RandAugment": None})
    with pytest.raises(ValueError, match="decode_on_device: RandAugment needs the decoded image"):
        build_dataloader(cfg.DataLoader.Train)
    ops.pop(2)
    cfg.DataLoader.Train.dataset.batch_transform_ops = [{"MixupOperator": {"alpha": 0.2}}]
    with pytest.raises(ValueError, match="decode_on_device: not with dataset.batch_transform_ops"):
        build_dataloader(cfg.DataLoader.Train, class_num=3)


def test_training_with_decode_on_device_from_the_cli(jpeg_data, tmp_path):
    raw = tiny_config_dict(jpeg_data, tmp_path / "out", epochs=1)
    for split in ("Train", "Eval"):
        raw["DataLoader"][split]["dataset"]["cls_label_path"] = str(jpeg_data / "train_list.txt")
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(raw))
    done = subprocess.run([sys.executable, "-m", "torchclas", "train", "-c", str(path),
                           "-o", "DataLoader.Train.loader.decode_on_device=True",
                           "-o", "DataLoader.Eval.loader.decode_on_device=True"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "011.jpg" in done.stderr  # the truncated JPEG, skipped and named
    train_record = read_metrics(tmp_path / "out" / "PPLCNet_x0_25" / "metrics.jsonl")[0]
    assert train_record["bad_images"] == 1 and train_record["num_images"] == 23


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (nvJPEG)")
def test_nvjpeg_matches_the_cpu_decode_within_a_few_grey_levels(jpeg_data, tmp_path):
    listing = jpeg_data / "train_list.txt"  # without the truncated JPEG: nvJPEG may read what libjpeg refuses
    listing.write_text("".join(line + "\n" for line in listing.read_text().splitlines() if "011.jpg" not in line))
    cfg = _config(jpeg_data, tmp_path, decode_on_device=True)
    loader = build_dataloader(cfg.DataLoader.Eval, seed=3)
    cuda = _epoch(loader, torch.device("cuda"))
    cpu = _epoch(loader)
    for (xg, yg, bad_g), (xc, yc, bad_c) in zip(cuda, cpu):
        assert xg.device.type == "cuda" and torch.equal(yg, yc) and bad_g == bad_c
        grey_levels = (xg.cpu() - xc).abs().mean() * 255 * 0.25  # the test config's std is 0.25
        assert grey_levels < 3


def test_paddleclas_use_dali_decodes_both_splits_on_the_device(jpeg_data, tmp_path):
    raw = tiny_config_dict(jpeg_data, tmp_path / "out")
    raw["Global"]["use_dali"] = True
    cfg = config_from_dict(raw)
    assert cfg.DataLoader.Train.loader.decode_on_device and cfg.DataLoader.Eval.loader.decode_on_device
    assert not config_from_dict(tiny_config_dict(jpeg_data, tmp_path / "out")).DataLoader.Train.loader.decode_on_device
