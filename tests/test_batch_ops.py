"""Batch ops (Mixup, CutMix, OpSampler), their DataLoader plumbing and config checks; TopkAcc on soft labels."""

from __future__ import annotations

import copy
import logging

import pytest
import torch

from tests.conftest import tiny_config_dict
from torchclas.config import ConfigError
from torchclas.configure import config_from_dict
from torchclas.data.batch_ops import SAMPLED_OPS, CutmixOperator, MixupOperator, OpSampler
from torchclas.data.pipeline import build_batch_ops, check_batch_ops
from torchclas.data.loader import build_dataloader
from torchclas.data.registry import BATCH_OPS
from torchclas.metrics import TopkAcc

pytestmark = pytest.mark.filterwarnings("ignore:The image decoding and encoding capabilities:DeprecationWarning")

SAMPLER = {"OpSampler": {"MixupOperator": {"alpha": 0.2, "prob": 0.4},
                         "CutmixOperator": {"alpha": 1.0, "prob": 0.4}}}


def run(op, images, labels, seed):
    torch.manual_seed(seed)
    return op(images, labels)


def partner(row: torch.Tensor, own: int) -> int:
    """The other class of a mixed target row (``own`` when the image was mixed with itself)."""
    others = [c for c in row.nonzero().flatten().tolist() if c != own]
    return others[0] if others else own


# ---------------------------------------------------------------- Mixup

def test_mixup_targets_sum_to_one_and_images_blend_with_the_partner():
    images, labels = torch.rand(6, 3, 8, 8), torch.arange(6)
    op = MixupOperator(class_num=6, alpha=0.4)
    for seed in range(10):
        mixed, targets = run(op, images, labels, seed)
        assert mixed.shape == images.shape and mixed.dtype == torch.float32
        assert targets.shape == (6, 6) and targets.dtype == torch.float32
        assert torch.allclose(targets.sum(dim=1), torch.ones(6))
        own_shares = set()
        for i in range(6):
            j = partner(targets[i], i)
            lam = float(targets[i, i]) if j != i else 1.0
            if j != i:
                own_shares.add(round(lam, 5))
            assert torch.allclose(mixed[i], lam * images[i] + (1 - lam) * images[j], atol=1e-6)
        assert len(own_shares) <= 1  # one lam per batch


def test_mixup_keeps_uint8_and_soft_input_labels():
    images = torch.randint(0, 256, (4, 1, 5, 5), dtype=torch.uint8)
    mixed, targets = run(MixupOperator(class_num=3), images, torch.tensor([0, 1, 2, 0]), 0)
    assert mixed.dtype == torch.uint8
    again, twice = run(MixupOperator(class_num=3), mixed, targets, 1)
    assert twice.shape == (4, 3) and torch.allclose(twice.sum(dim=1), torch.ones(4))


# ---------------------------------------------------------------- CutMix

def test_cutmix_pastes_one_box_and_the_pasted_share_equals_its_area():
    n, height, width = 6, 20, 30
    images = torch.arange(1, n + 1, dtype=torch.float32).view(n, 1, 1, 1).expand(n, 2, height, width).clone()
    op = CutmixOperator(class_num=n, alpha=1.0)
    pasted_any = False
    for seed in range(20):
        mixed, targets = run(op, images, torch.arange(n), seed)
        assert torch.allclose(targets.sum(dim=1), torch.ones(n))
        for i in range(n):
            j = partner(targets[i], i)
            pasted = (mixed[i, 0] != i + 1)
            if j == i:
                assert targets[i, i] == 1
                continue
            pasted_any = True
            assert (mixed[i][:, pasted] == j + 1).all()
            rows, cols = pasted.any(dim=1).nonzero(), pasted.any(dim=0).nonzero()
            box = int(rows.max() - rows.min() + 1) * int(cols.max() - cols.min() + 1)
            assert int(pasted.sum()) == box  # a rectangle
            assert float(targets[i, j]) == pytest.approx(box / (height * width), abs=1e-6)
            assert float(targets[i, i]) == pytest.approx(1 - box / (height * width), abs=1e-6)
    assert pasted_any


def test_cutmix_box_is_clipped_to_the_image():
    torch.manual_seed(0)
    for _ in range(200):
        y1, y2, x1, x2 = CutmixOperator.box(10, 14, float(torch.rand(())))
        assert 0 <= y1 <= y2 <= 10 and 0 <= x1 <= x2 <= 14


# ---------------------------------------------------------------- OpSampler

class Counting:
    def __init__(self, name, counts):
        self.name, self.counts = name, counts

    def __call__(self, images, labels):
        self.counts[self.name] += 1
        return images, labels


def test_op_sampler_picks_ops_with_their_probabilities_and_identity_otherwise():
    sampler = OpSampler(class_num=4, MixupOperator={"alpha": 0.2, "prob": 0.3},
                        CutmixOperator={"alpha": 1.0, "prob": 0.5})
    assert [(type(op).__name__, p) for op, p in sampler.ops] == [("MixupOperator", 0.3), ("CutmixOperator", 0.5)]
    counts = {"mix": 0, "cut": 0}
    sampler.ops = [(Counting("mix", counts), 0.3), (Counting("cut", counts), 0.5)]
    images, labels = torch.rand(2, 1, 4, 4), torch.tensor([1, 3])
    torch.manual_seed(0)
    draws, identity = 4000, 0
    for _ in range(draws):
        out, targets = sampler(images, labels)
        if targets.ndim == 2:
            identity += 1
            assert torch.equal(out, images) and targets.tolist() == [[0, 1, 0, 0], [0, 0, 0, 1]]
    assert counts["mix"] / draws == pytest.approx(0.3, abs=0.03)
    assert counts["cut"] / draws == pytest.approx(0.5, abs=0.03)
    assert identity / draws == pytest.approx(0.2, abs=0.03)


def test_op_sampler_errors(caplog, monkeypatch):
    with pytest.raises(ValueError, match="sum to 1.2, more than 1"):
        OpSampler(class_num=3, MixupOperator={"prob": 0.6}, CutmixOperator={"prob": 0.6})
    with pytest.raises(ValueError, match=r"'MixupOperater' is not a batch op \(did you mean 'MixupOperator'\?\)"):
        OpSampler(class_num=3, MixupOperater={"prob": 0.5})
    monkeypatch.setattr(SAMPLED_OPS, "not_yet", frozenset({"FancyMix"}))
    with pytest.raises(ValueError, match="'FancyMix' is a PaddleClas batch op not implemented"):
        OpSampler(class_num=3, FancyMix={"prob": 0.5})
    with caplog.at_level(logging.WARNING):
        sampler = OpSampler(class_num=3, MixupOperator={"alpha": 0.2})
    assert sampler.ops[0][1] == 0 and "no 'prob'" in caplog.text


def test_batch_ops_need_class_num_and_labels_in_range():
    with pytest.raises(ValueError, match="needs class_num"):
        MixupOperator(alpha=0.2)
    with pytest.raises(ValueError, match=r"label 5 is outside 0\.\.2"):
        MixupOperator(class_num=3)(torch.rand(2, 1, 2, 2), torch.tensor([0, 5]))
    assert build_batch_ops(None, None) is None and build_batch_ops([], None) is None
    with pytest.raises(ValueError, match=r"class_num=cfg\.class_num"):
        build_batch_ops([{"MixupOperator": {"alpha": 0.2}}], None)


def test_check_batch_ops_rejects_per_image_ops_and_skips_not_yet(monkeypatch):
    with pytest.raises(ValueError, match=r"x\[0\]: 'ResizeImage' is a per-image op; list it under "
                                         r"dataset\.transform_ops"):
        check_batch_ops([{"ResizeImage": {"size": 8}}], "x", 3)
    monkeypatch.setattr(BATCH_OPS, "not_yet", frozenset({"FancyMix"}))
    assert check_batch_ops([{"FancyMix": {"alpha": 1}}, SAMPLER], "x", 3) == ["FancyMix"]


# ---------------------------------------------------------------- DataLoader

@pytest.fixture
def cfg(tiny_data, tmp_path):
    raw = tiny_config_dict(tiny_data, tmp_path / "out")
    dataset = raw["DataLoader"]["Train"]["dataset"]
    dataset["batch_transform_ops"] = [copy.deepcopy(SAMPLER)]
    dataset["transform_ops"].insert(3, {"TimmAutoAugment": {"config_str": "rand-m9-mstd0.5-inc1", "img_size": 32}})
    dataset["transform_ops"].append({"RandomErasing": {"EPSILON": 0.5, "mode": "pixel"}})
    return config_from_dict(raw)


def _epoch(loader, epoch):
    loader.batch_sampler.set_epoch(epoch)
    return [(images.clone(), labels.clone(), bad) for images, labels, bad in loader]


def test_dataloader_batch_ops_are_identical_with_zero_and_two_workers(cfg):
    split = cfg.DataLoader.Train
    zero = _epoch(build_dataloader(split, seed=5, class_num=cfg.class_num), 1)
    split.loader.num_workers, split.loader.persistent_workers = 2, False
    two = _epoch(build_dataloader(split, seed=5, class_num=cfg.class_num), 1)
    assert len(zero) == len(two) == 6
    for (xa, ya, bad_a), (xb, yb, bad_b) in zip(zero, two):
        assert xa.shape == (8, 3, 32, 32) and ya.shape == (8, 3) and ya.dtype == torch.float32
        assert torch.allclose(ya.sum(dim=1), torch.ones(8))
        assert torch.equal(xa, xb) and torch.equal(ya, yb) and bad_a == bad_b == []
    assert any((y.max(dim=1).values < 1).any() for _, y, _ in zero)  # some batches were mixed


def test_dataloader_with_batch_ops_needs_class_num(cfg):
    with pytest.raises(ValueError, match=r"dataset\.batch_transform_ops: batch ops .* class_num"):
        build_dataloader(cfg.DataLoader.Train)


# ---------------------------------------------------------------- config checks

@pytest.fixture
def raw(tiny_data, tmp_path):
    return tiny_config_dict(tiny_data, tmp_path / "out")


def _config_error(raw) -> str:
    with pytest.raises(ConfigError) as info:
        config_from_dict(raw)
    return str(info.value)


def test_config_batch_op_parameter_typo_names_the_key(raw):
    raw["DataLoader"]["Train"]["dataset"]["batch_transform_ops"] = [{"CutmixOperator": {"alpa": 1.0}}]
    assert ("DataLoader.Train.dataset.batch_transform_ops[0]: CutmixOperator has no parameter 'alpa' "
            "(did you mean 'alpha'?)") in _config_error(raw)


def test_config_op_sampler_typo_names_the_key(raw):
    raw["DataLoader"]["Train"]["dataset"]["batch_transform_ops"] = [
        {"OpSampler": {"MixupOperator": {"alpah": 0.2, "prob": 0.5}}}]
    assert ("DataLoader.Train.dataset.batch_transform_ops[0]: OpSampler.MixupOperator: MixupOperator has no "
            "parameter 'alpah' (did you mean 'alpha'?)") in _config_error(raw)


def test_config_ops_in_the_wrong_list(raw):
    dataset = raw["DataLoader"]["Train"]["dataset"]
    dataset["transform_ops"].append({"CutmixOperator": {"alpha": 1.0}})
    assert "DataLoader.Train.dataset.transform_ops[4]: 'CutmixOperator' is a batch op" in _config_error(raw)
    dataset["transform_ops"].pop()
    dataset["batch_transform_ops"] = [{"RandFlipImage": None}]
    assert "DataLoader.Train.dataset.batch_transform_ops[0]: 'RandFlipImage' is a per-image op" in _config_error(raw)


def test_config_with_batch_ops_and_augmentations_loads(raw):
    dataset = raw["DataLoader"]["Train"]["dataset"]
    dataset["batch_transform_ops"] = [copy.deepcopy(SAMPLER)]
    dataset["transform_ops"][2:2] = [{"RandAugment": {"num_layers": 2, "magnitude": 5}}]
    dataset["transform_ops"].append({"RandomErasing": {"EPSILON": 0.25, "sh": "1.0/3.0", "mode": "pixel"}})
    cfg = config_from_dict(raw)
    assert cfg.DataLoader.Train.dataset.batch_transform_ops == [SAMPLER]


# ---------------------------------------------------------------- TopkAcc

def test_topk_acc_accepts_soft_labels():
    logits = torch.tensor([[0.1, 0.9, 0.0], [0.8, 0.1, 0.1], [0.2, 0.3, 0.5]])
    soft = torch.tensor([[0.3, 0.7, 0.0], [0.4, 0.6, 0.0], [0.0, 0.1, 0.9]])
    metric = TopkAcc(topk=[1, 2])
    metric.update(logits, soft)
    hard = TopkAcc(topk=[1, 2])
    hard.update(logits, torch.tensor([1, 1, 2]))
    assert metric.compute() == hard.compute() == {"top1": 2 / 3, "top2": 1.0}
