"""MultiScaleSampler + MultiScaleDataset: per-batch scales and batch sizes, determinism, sharding,
the loader's batches, config errors."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from tests.conftest import tiny_config_dict
from torchclas.config import ConfigError
from torchclas.configure import config_from_dict
from torchclas.config.schema import SamplerConfig
from torchclas.data.loader import build_dataloader
from torchclas.data.multi_scale import MultiScaleDataset, with_size
from torchclas.data.samplers import MultiScaleSampler, build_batch_sampler, scale_batches

pytestmark = pytest.mark.filterwarnings("ignore:The image decoding and encoding capabilities:DeprecationWarning")

BATCHES = [(32, 32, 8), (48, 48, 3), (64, 32, 4)]


def epoch(sampler, number: int = 0) -> list[list[tuple]]:
    sampler.set_epoch(number)
    return list(sampler)


def test_scale_batches_follow_the_pixel_budget_of_the_first_scale():
    assert scale_batches([256, 160, 192, 224, 288, 320], 48) == [
        (256, 256, 48), (160, 160, 122), (192, 192, 85), (224, 224, 62), (288, 288, 37), (320, 320, 30)]
    # sides round down to multiples of divided_factor; the budget uses scales[0] as written
    assert scale_batches([[40, 40], [50, 70]], 4, divided_factor=16) == [(32, 32, 6), (48, 64, 2)]
    assert scale_batches([[40, 40], [50, 70]], 4, is_training=False) == [(40, 40, 4)]
    assert scale_batches([1000, 10], 1, divided_factor=1) == [(1000, 1000, 1), (10, 10, 10000)]
    with pytest.raises(ValueError, match="sampler.scales: 20x20 rounds down to 0x0 with divided_factor 32"):
        scale_batches([64, 20], 4)


def test_each_batch_has_one_scale_and_its_batch_size():
    sampler = MultiScaleSampler(100, BATCHES, shuffle=True, seed=1)
    batches = epoch(sampler)
    assert len(batches) == len(sampler)
    sizes = {(w, h): bs for w, h, bs in BATCHES}
    for batch in batches:
        scales = {scale for _, _, scale in batch}
        assert len(scales) == 1 and len(batch) == sizes[scales.pop()]
    assert {batch[0][2] for batch in batches} == set(sizes)  # every scale used
    indices = [i for batch in batches for i, _, _ in batch]
    assert set(indices) == set(range(100))  # the whole data set, the last batch wrapped to fill it
    assert sum(len(b) for b in batches) - 100 < max(bs for *_, bs in BATCHES)
    seeds = [s for batch in batches for _, s, _ in batch]
    assert len(set(seeds)) == len(seeds)


def test_deterministic_per_seed_and_epoch_with_a_fixed_scale_sequence():
    one, two = MultiScaleSampler(60, BATCHES, seed=5), MultiScaleSampler(60, BATCHES, seed=5)
    assert epoch(one, 3) == epoch(two, 3)
    first, second = epoch(one, 0), epoch(one, 1)
    assert [i for b in first for i, _, _ in b] != [i for b in second for i, _, _ in b]
    # the scales (and so the number of batches) stay for the run, as in PaddleClas
    assert [b[0][2] for b in first] == [b[0][2] for b in second]
    other = MultiScaleSampler(60, BATCHES, seed=6)
    assert [b[0][2] for b in epoch(other)] != [b[0][2] for b in first]
    one.set_epoch(0)
    assert one.batch_at(2) == first[2]
    one.set_epoch(0, start_batch=2)
    assert list(one) == first[2:]


def test_shuffle_off_keeps_file_order():
    sampler = MultiScaleSampler(20, [(32, 32, 4)], shuffle=False)
    assert [i for b in epoch(sampler) for i, _, _ in b] == list(range(20))


def test_two_processes_share_the_layout_and_split_the_images():
    ranks = [MultiScaleSampler(50, BATCHES, seed=2, num_replicas=2, rank=r) for r in range(2)]
    batches = [epoch(s, 4) for s in ranks]
    assert len(batches[0]) == len(batches[1])  # same number of steps on every process
    assert [b[0][2] for b in batches[0]] == [b[0][2] for b in batches[1]]
    own = [{i for b in rank for i, _, _ in b} for rank in batches]
    assert own[0] | own[1] == set(range(50))
    assert len(own[0] & own[1]) <= 1  # 50 split 25/25; only wrapping to fill a last batch repeats


def test_sampler_config_defaults_to_shuffling_as_paddleclas():
    dataset = list(range(30))
    cfg = SamplerConfig(name="MultiScaleSampler", scales=[32, 64], first_bs=4)
    assert build_batch_sampler(cfg, dataset).shuffle is True
    cfg = SamplerConfig(name="MultiScaleSampler", scales=[32, 64], first_bs=4, shuffle=False)
    assert build_batch_sampler(cfg, dataset).shuffle is False
    assert build_batch_sampler(cfg, dataset).batches == [(32, 32, 4), (64, 64, 1)]


def test_with_size_sets_every_sized_op():
    ops = [{"DecodeImage": None}, {"ResizeImage": {"resize_short": 36, "interpolation": "bicubic"}},
           {"CropImage": {"size": 32}}, {"NormalizeImage": None}]
    assert with_size(ops, 48, 40)[1:3] == [{"ResizeImage": {"interpolation": "bicubic", "size": [48, 40]}},
                                           {"CropImage": {"size": [48, 40]}}]
    assert ops[2] == {"CropImage": {"size": 32}}  # the config's list is left alone
    with pytest.raises(ValueError, match="MultiScaleDataset needs a RandCropImage, ResizeImage or CropImage"):
        with_size([{"DecodeImage": None}], 32, 32)


def _multi_scale_raw(tiny_data, tmp_path, **sampler):
    raw = tiny_config_dict(tiny_data, tmp_path / "out")
    raw["DataLoader"]["Train"]["dataset"]["name"] = "MultiScaleDataset"
    raw["DataLoader"]["Train"]["sampler"] = {"name": "MultiScaleSampler", "scales": [[32, 32], [48, 48], [64, 32]],
                                             "first_bs": 4, "divided_factor": 16, **sampler}
    return raw


def test_loader_batches_come_at_each_scale(tiny_data, tmp_path):
    split = config_from_dict(_multi_scale_raw(tiny_data, tmp_path)).DataLoader.Train
    loader = build_dataloader(split, seed=3)
    assert isinstance(loader.base_dataset, MultiScaleDataset)
    shapes = Counter()
    total = 0
    for images, labels, bad in loader:
        shapes[tuple(images.shape)] += 1
        total += len(labels)
        assert images.dtype == torch.float32 and not bad
    expected = {(4, 3, 32, 32), (1, 3, 48, 48), (2, 3, 32, 64)}  # 4 * 32*32 / area; [w, h] -> H x W
    assert set(shapes) == expected and sum(shapes.values()) == len(loader)
    assert 48 <= total < 52
    again = [tuple(images.shape) for images, _, _ in build_dataloader(split, seed=3)]
    assert Counter(again) == shapes


def test_loader_workers_give_the_same_batches(tiny_data, tmp_path):
    raw = _multi_scale_raw(tiny_data, tmp_path)
    split = config_from_dict(raw).DataLoader.Train
    plain = [images for images, _, _ in build_dataloader(split, seed=4)]
    raw["DataLoader"]["Train"]["loader"] = {"num_workers": 2}
    workers = [images for images, _, _ in build_dataloader(config_from_dict(raw).DataLoader.Train, seed=4)]
    assert len(plain) == len(workers) and all(torch.equal(a, b) for a, b in zip(plain, workers))


def test_eval_mode_uses_the_first_scale(tiny_data, tmp_path):
    raw = _multi_scale_raw(tiny_data, tmp_path, is_training=False)
    shapes = {tuple(images.shape[1:]) for images, _, _ in build_dataloader(config_from_dict(raw).DataLoader.Train)}
    assert shapes == {(3, 32, 32)}


def test_config_errors(tiny_data, tmp_path):
    raw = _multi_scale_raw(tiny_data, tmp_path)
    del raw["DataLoader"]["Train"]["sampler"]["first_bs"]
    with pytest.raises(ConfigError, match="MultiScaleSampler needs scales and first_bs"):
        config_from_dict(raw)
    raw = tiny_config_dict(tiny_data, tmp_path / "out")
    raw["DataLoader"]["Train"]["sampler"]["scales"] = [32]
    with pytest.raises(ConfigError, match="scales is a key of MultiScaleSampler, not DistributedBatchSampler"):
        config_from_dict(raw)
    raw = _multi_scale_raw(tiny_data, tmp_path, scales=[[32, 32, 3]])
    with pytest.raises(ConfigError, match=r"ints \(square\) or \[width, height\] pairs"):
        config_from_dict(raw)
    raw = _multi_scale_raw(tiny_data, tmp_path)
    raw["DataLoader"]["Train"]["dataset"]["name"] = "ImageNetDataset"
    with pytest.raises(ValueError, match="MultiScaleSampler needs dataset.name MultiScaleDataset"):
        build_dataloader(config_from_dict(raw).DataLoader.Train)
