"""Class-balanced, weighted and repeated-augmentation samplers: frequencies, determinism, sharding,
config errors."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from tests.conftest import tiny_config_dict
from torchclas.config import ConfigError
from torchclas.configure import config_from_dict
from torchclas.config.schema import SamplerConfig
from torchclas.data.loader import SeededBatchSampler, build_dataloader
from torchclas.data.samplers import (RepeatedAugmentSampler, WeightedClassSampler, build_batch_sampler,
                                     dataset_labels, label_counts)

# pytest resets the filter torchclas.data.transforms installs at import; keep the output readable.
pytestmark = pytest.mark.filterwarnings("ignore:The image decoding and encoding capabilities:DeprecationWarning")

LABELS = [0] * 90 + [1] * 9 + [2] * 1  # 90/9/1 imbalance


class Labelled(torch.utils.data.Dataset):
    """Labels only, like a file list dataset (``.targets``)."""

    def __init__(self, labels):
        self.targets = list(labels)

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, index):
        return index, self.targets[index]


def _draws(sampler, epoch: int = 0) -> list[int]:
    sampler.set_epoch(epoch)
    return [index for batch in sampler for index, _ in batch]


def _class_share(indices, labels=LABELS) -> list[float]:
    counts = Counter(labels[i] for i in indices)
    return [counts[c] / len(indices) for c in range(3)]


def _sampler(name="ClassBalancedSampler", dataset=None, **keys):
    cfg = SamplerConfig(name=name, batch_size=16, **keys)
    return build_batch_sampler(cfg, dataset or Labelled(LABELS), seed=3)


def test_balanced_sampler_draws_every_class_equally():
    sampler = _sampler(num_samples=3000)
    draws = _draws(sampler)
    assert len(draws) == 3000 and len(sampler) == 188  # 3000 / 16, last batch partial
    for share in _class_share(draws):
        assert abs(share - 1 / 3) < 0.05
    assert set(LABELS[i] for i in draws) == {0, 1, 2}
    # within a class, samples are drawn uniformly (with replacement): many of the 90 class-0 images appear
    assert len({i for i in draws if LABELS[i] == 0}) > 80


def test_balanced_sampler_default_epoch_length_is_the_dataset_size():
    assert len(_draws(_sampler())) == len(LABELS)


def test_weighted_sampler_frequencies_follow_weight_times_count():
    weights = [1.0, 5.0, 20.0]
    draws = _draws(_sampler("WeightedSampler", class_weights=weights, num_samples=6000))
    mass = [w * n for w, n in zip(weights, (90, 9, 1))]
    for share, expected in zip(_class_share(draws), mass):
        assert share == pytest.approx(expected / sum(mass), abs=0.03)


def test_weighted_sampler_auto_is_balanced():
    draws = _draws(_sampler("WeightedSampler", class_weights="auto", num_samples=3000))
    for share in _class_share(draws):
        assert abs(share - 1 / 3) < 0.05


def test_deterministic_per_seed_and_epoch_and_epochs_differ():
    a, b = _sampler(), _sampler()
    assert _draws(a, 4) == _draws(b, 4)
    a.set_epoch(4)
    b.set_epoch(4)
    assert list(a) == list(b)  # the per-sample seeds too
    assert _draws(a, 4) != _draws(a, 5)
    other = build_batch_sampler(SamplerConfig(name="ClassBalancedSampler", batch_size=16), Labelled(LABELS), seed=4)
    assert _draws(other, 4) != _draws(a, 4)


def test_two_shards_are_disjoint_positions_of_the_full_sequence():
    cfg = SamplerConfig(name="ClassBalancedSampler", batch_size=4, num_samples=101)
    shards = [build_batch_sampler(cfg, Labelled(LABELS), seed=1, num_replicas=2, rank=r) for r in range(2)]
    for s in shards:
        s.set_epoch(2)
    batches = [list(s) for s in shards]
    seeds = [{seed for batch in b for _, seed in batch} for b in batches]
    assert not seeds[0] & seeds[1]  # per-sample seeds are global positions: no position is in both
    sizes = [sum(len(batch) for batch in b) for b in batches]
    assert sizes == [51, 51] and len(shards[0]) == 13  # ceil(101 / 2) each, padded like DistributedSampler
    # rank r holds positions r, r + 2, ... of the one global sequence
    single = build_batch_sampler(cfg.model_copy(update={"num_samples": 102}), Labelled(LABELS), seed=1)
    interleaved = [i for pair in zip(*[[i for batch in b for i, _ in batch] for b in batches]) for i in pair]
    assert interleaved == _draws(single, 2)


def test_drop_last_shards():
    cfg = SamplerConfig(name="ClassBalancedSampler", batch_size=4, num_samples=101, drop_last=True)
    shards = [build_batch_sampler(cfg, Labelled(LABELS), num_replicas=2, rank=r) for r in range(2)]
    for s in shards:
        batches = list(s)
        assert len(batches) == len(s) == 12 and all(len(b) == 4 for b in batches)  # 50 each, 2 dropped


def test_plain_names_build_the_seeded_sampler():
    for name in ("DistributedBatchSampler", "BatchSampler"):
        sampler = build_batch_sampler(SamplerConfig(name=name, batch_size=8, shuffle=True), Labelled(LABELS))
        assert type(sampler) is SeededBatchSampler and sorted(_draws(sampler)) == list(range(100))


def test_label_counts_and_labels():
    assert label_counts(Labelled(LABELS)) == [90, 9, 1]
    assert label_counts(Labelled(LABELS), num_classes=5) == [90, 9, 1, 0, 0]
    with pytest.raises(ValueError, match=r"label 2 is outside 0..1"):
        label_counts(Labelled(LABELS), num_classes=2)
    subset = torch.utils.data.Subset(Labelled(LABELS), [0, 95, 99])
    assert dataset_labels(subset) == [0, 1, 2]

    class Samples:
        samples = [("a.png", 1), ("b.png", 1)]

    assert label_counts(Samples()) == [0, 2]
    with pytest.raises(TypeError, match="neither .targets nor .samples"):
        dataset_labels(object())


def test_class_weights_length_must_match_the_classes():
    with pytest.raises(ValueError, match=r"sampler.class_weights: 2 weights given but there are 3 classes"):
        _sampler("WeightedSampler", class_weights=[1.0, 2.0])
    cfg = SamplerConfig(name="WeightedSampler", batch_size=4, class_weights=[1.0, 2.0, 3.0, 4.0])
    assert len(build_batch_sampler(cfg, Labelled(LABELS), num_classes=4)) == 25


# ------------------------------------------------------------------ config

@pytest.fixture
def raw(tmp_path) -> dict:
    return tiny_config_dict(tmp_path / "data", tmp_path / "out")


def _error(raw: dict) -> str:
    with pytest.raises(ConfigError) as info:
        config_from_dict(raw)
    return str(info.value)


def test_config_accepts_sampler_keys(raw):
    raw["DataLoader"]["Train"]["sampler"] = {"name": "WeightedSampler", "batch_size": 8,
                                             "class_weights": [1, 2.5, 3], "num_samples": 500}
    sampler = config_from_dict(raw).DataLoader.Train.sampler
    assert sampler.class_weights == [1.0, 2.5, 3.0] and sampler.num_samples == 500


@pytest.mark.parametrize("sampler, message", [
    ({"name": "ClassBalancedSampelr"}, "DataLoader.Train.sampler.name: invalid value 'ClassBalancedSampelr': "
                                       "unknown sampler 'ClassBalancedSampelr' "
                                       "(did you mean 'ClassBalancedSampler'?)"),
    ({"name": "PKSampler"}, "'PKSampler' is a PaddleClas sampler not implemented in torchclas yet"),
    ({"name": "WeightedSampler"}, "DataLoader.Train.sampler.class_weights: invalid value None: "
                                  "WeightedSampler needs class_weights"),
    ({"name": "WeightedSampler", "class_weights": "balanced"}, "DataLoader.Train.sampler.class_weights: "
                                                               "invalid value 'balanced'"),
    ({"name": "WeightedSampler", "class_weights": [1, -1]}, "DataLoader.Train.sampler.class_weights: invalid "
                                                            "value [1, -1]: weights must be"),
    ({"name": "DistributedBatchSampler", "class_weights": [1, 2]}, "class_weights is a key of WeightedSampler"),
    ({"name": "DistributedBatchSampler", "num_samples": 10}, "DataLoader.Train.sampler.num_samples: invalid "
                                                             "value 10"),
])
def test_config_sampler_errors_name_the_key(raw, sampler, message):
    raw["DataLoader"]["Train"]["sampler"] = {"batch_size": 8, **sampler}
    assert message in _error(raw)


def test_build_dataloader_uses_the_configured_sampler(tiny_data, tmp_path):
    raw = tiny_config_dict(tiny_data, tmp_path / "out")
    raw["DataLoader"]["Train"]["sampler"] = {"name": "WeightedSampler", "batch_size": 8,
                                             "class_weights": [1.0, 0.0, 0.0], "num_samples": 16}
    loader = build_dataloader(config_from_dict(raw).DataLoader.Train, seed=1)
    assert isinstance(loader.batch_sampler, WeightedClassSampler)
    labels = torch.cat([labels for _, labels, _ in loader])
    assert labels.tolist() == [0] * 16
    assert label_counts(loader.base_dataset) == [16, 16, 16]


def test_build_dataloader_checks_class_weights_against_class_num(tiny_data, tmp_path):
    raw = tiny_config_dict(tiny_data, tmp_path / "out")
    raw["DataLoader"]["Train"]["sampler"] = {"name": "WeightedSampler", "batch_size": 8, "class_weights": "auto"}
    split = config_from_dict(raw).DataLoader.Train
    assert label_counts(build_dataloader(split, class_num=4).base_dataset, 4) == [16, 16, 16, 0]
    split.sampler.class_weights = [1.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="sampler.class_weights: 3 weights given but there are 4 classes"):
        build_dataloader(split, class_num=4)


# ---------------------------------------------------------------- RASampler

def _ra(size=300, batch_size=16, num_replicas=1, rank=0, **keys):
    cfg = SamplerConfig(name="RASampler", batch_size=batch_size, shuffle=True, **keys)
    return build_batch_sampler(cfg, Labelled([0] * size), seed=3, num_replicas=num_replicas, rank=rank)


def test_ra_sampler_repeats_each_image_with_its_own_seeds():
    sampler = _ra(num_repeats=3)
    assert isinstance(sampler, RepeatedAugmentSampler)
    sampler.set_epoch(0)
    items = [item for batch in sampler for item in batch]
    indices = [index for index, _ in items]
    assert len(indices) == 256  # an epoch is one pass, rounded down to a multiple of 256 (DeiT)
    runs = [indices[i:i + 3] for i in range(0, 255, 3)]
    assert all(len(set(run)) == 1 for run in runs)  # each image three times in a row
    assert len({seed for _, seed in items}) == 256  # each copy its own augmentation
    assert len(sampler) == 16


def test_ra_sampler_spreads_the_copies_over_processes():
    shards = [_ra(size=512, num_replicas=3, rank=r) for r in range(3)]
    draws = [_draws(s, 2) for s in shards]
    assert [len(d) for d in draws] == [512 // 3] * 3
    first = [d[0] for d in draws]
    assert len(set(first)) == 1  # the three copies of the first image land on the three processes
    assert _draws(shards[0], 2) == draws[0] and _draws(shards[0], 3) != draws[0]


def test_ra_sampler_on_small_data_takes_one_pass():
    sampler = _ra(size=48, batch_size=8)
    draws = _draws(sampler)
    assert len(draws) == 48 and len(sampler) == 6
    assert Counter(Counter(draws).values()) == {3: 16}  # 16 images three times
    assert _ra(size=48, batch_size=7, drop_last=True).__len__() == 6


def test_ra_sampler_keys():
    with pytest.raises(ValueError, match="num_repeats is a key of RASampler"):
        SamplerConfig(name="DistributedBatchSampler", num_repeats=2)
    assert _ra(num_repeats=2).num_repeats == 2
