"""Seeded batch sampler and DataLoader: reproducible batches whatever the worker count."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import tiny_config_dict
from torchclas.configure import config_from_dict
from torchclas.data.loader import SeededBatchSampler, SeededDataset, build_dataloader

# pytest resets the filter torchclas.data.transforms installs at import; keep the output readable.
pytestmark = pytest.mark.filterwarnings("ignore:The image decoding and encoding capabilities:DeprecationWarning")


def _batches(sampler: SeededBatchSampler, epoch: int = 0) -> list[list[tuple[int, int]]]:
    sampler.set_epoch(epoch)
    return list(sampler)


def _indices(batches) -> list[int]:
    return [index for batch in batches for index, _ in batch]


# ------------------------------------------------------------------ SeededBatchSampler

def test_same_epoch_gives_same_batches_and_seeds():
    a = SeededBatchSampler(10, 3, shuffle=True, drop_last=False, seed=4)
    b = SeededBatchSampler(10, 3, shuffle=True, drop_last=False, seed=4)
    first = _batches(a, 2)
    assert first == _batches(b, 2) == _batches(a, 2)
    assert [len(batch) for batch in first] == [3, 3, 3, 1]
    assert sorted(_indices(first)) == list(range(10))
    seeds = [seed for batch in first for _, seed in batch]
    assert len(set(seeds)) == 10 and all(0 <= s < 2**62 for s in seeds)


def test_different_epochs_and_seeds_differ():
    sampler = SeededBatchSampler(16, 4, shuffle=True, drop_last=False, seed=0)
    epoch0, epoch1 = _batches(sampler, 0), _batches(sampler, 1)
    assert _indices(epoch0) != _indices(epoch1)
    assert sorted(_indices(epoch0)) == sorted(_indices(epoch1)) == list(range(16))
    seeds0 = {s for batch in epoch0 for _, s in batch}
    seeds1 = {s for batch in epoch1 for _, s in batch}
    assert not seeds0 & seeds1
    other = SeededBatchSampler(16, 4, shuffle=True, drop_last=False, seed=1)
    assert _indices(_batches(other, 0)) != _indices(epoch0)


def test_no_shuffle_keeps_order_but_new_seeds_each_epoch():
    sampler = SeededBatchSampler(7, 3, shuffle=False, drop_last=False, seed=0)
    epoch0, epoch1 = _batches(sampler, 0), _batches(sampler, 1)
    assert [[i for i, _ in batch] for batch in epoch0] == [[0, 1, 2], [3, 4, 5], [6]]
    assert _indices(epoch1) == list(range(7))
    assert [s for b in epoch0 for _, s in b] != [s for b in epoch1 for _, s in b]


def test_two_replicas_disjoint_and_covering():
    shards = [SeededBatchSampler(8, 2, shuffle=True, drop_last=False, seed=3, num_replicas=2, rank=r)
              for r in range(2)]
    parts = [_indices(_batches(s, 1)) for s in shards]
    assert len(parts[0]) == len(parts[1]) == 4
    assert not set(parts[0]) & set(parts[1])
    assert sorted(parts[0] + parts[1]) == list(range(8))
    seeds = [{s for b in _batches(sh, 1) for _, s in b} for sh in shards]
    assert not seeds[0] & seeds[1]


def test_two_replicas_pad_by_wrapping():
    shards = [SeededBatchSampler(7, 3, shuffle=False, drop_last=False, num_replicas=2, rank=r)
              for r in range(2)]
    parts = [_indices(_batches(s)) for s in shards]
    assert parts == [[0, 2, 4, 6], [1, 3, 5, 0]]  # the 8th sample wraps round to the first
    assert [len(s) for s in shards] == [2, 2]
    dropped = [SeededBatchSampler(7, 3, shuffle=False, drop_last=True, num_replicas=2, rank=r)
               for r in range(2)]
    assert [_indices(_batches(s)) for s in dropped] == [[0, 2, 4], [1, 3, 5]]
    assert [len(s) for s in dropped] == [1, 1]


@pytest.mark.parametrize("size, batch, drop_last, replicas, expected", [
    (10, 3, False, 1, 4), (10, 3, True, 1, 3), (9, 3, False, 1, 3), (9, 3, True, 1, 3),
    (2, 4, False, 1, 1), (2, 4, True, 1, 0), (11, 2, False, 2, 3), (11, 2, True, 2, 2),
])
def test_len_matches_iteration(size, batch, drop_last, replicas, expected):
    for rank in range(replicas):
        sampler = SeededBatchSampler(size, batch, shuffle=True, drop_last=drop_last, seed=1,
                                     num_replicas=replicas, rank=rank)
        batches = _batches(sampler)
        assert len(sampler) == len(batches) == expected
        if drop_last:
            assert all(len(b) == batch for b in batches)


def test_seeded_dataset_seeds_torch_before_reading():
    class Draw(torch.utils.data.Dataset):
        def __len__(self):
            return 3

        def __getitem__(self, index):
            return index, torch.rand(1).item()

    ds = SeededDataset(Draw())
    assert len(ds) == 3
    assert ds[(1, 42)] == ds[(1, 42)]
    torch.manual_seed(42)
    expected = torch.rand(1).item()
    assert ds[(2, 42)] == (2, expected)
    assert ds[(2, 43)][1] != expected


# ------------------------------------------------------------------ build_dataloader

@pytest.fixture
def cfg(tiny_data, tmp_path):
    return config_from_dict(tiny_config_dict(tiny_data, tmp_path / "out"))


def _epoch(loader, epoch: int):
    loader.batch_sampler.set_epoch(epoch)
    return [(images.clone(), labels.clone(), bad) for images, labels, bad in loader]


def test_batches_identical_with_zero_and_one_worker(cfg):
    split = cfg.DataLoader.Train
    assert split.sampler.shuffle and split.dataset.transform_ops[1].keys() == {"RandCropImage"}
    zero = _epoch(build_dataloader(split, seed=5), 1)
    split.loader.num_workers = 1
    split.loader.persistent_workers = False
    one = _epoch(build_dataloader(split, seed=5), 1)
    assert len(zero) == len(one) == 6  # 48 images, batch 8
    for (xa, ya, bad_a), (xb, yb, bad_b) in zip(zero, one):
        assert xa.shape == (8, 3, 32, 32) and xa.dtype == torch.float32
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
        assert bad_a == bad_b == []


def test_late_normalize_gives_exactly_the_per_image_result(cfg):
    from torchclas.data.loader import DeviceLoader

    split = cfg.DataLoader.Train
    late_loader = build_dataloader(split, seed=5)
    assert isinstance(late_loader, DeviceLoader)
    late_loader.batch_sampler.set_epoch(1)
    raw = [x for x, _, _ in late_loader.worker_batches()]
    assert all(x.dtype == torch.uint8 for x in raw)  # what the workers send
    on_device = [late_loader.late_normalize(x.clone()) for x in raw]
    iterated = [x for x, _, _ in _epoch(late_loader, 1)]  # iterating normalises
    split.loader.late_normalize = False
    early_loader = build_dataloader(split, seed=5)
    assert early_loader.late_normalize is None
    early = [x for x, _, _ in _epoch(early_loader, 1)]
    for a, b, c in zip(on_device, iterated, early):
        assert a.dtype == b.dtype == c.dtype == torch.float32 and torch.equal(a, c) and torch.equal(b, c)
    late_loader.batch_sampler.set_epoch(1)
    cl = next(iter(late_loader.on(torch.device("cpu"), channels_last=True)))[0]
    assert cl.is_contiguous(memory_format=torch.channels_last) and torch.equal(cl, early[0])


def test_iterating_draws_nothing_from_the_global_rng(cfg):
    """iter(DataLoader) draws its workers' base seed from torch's RNG; the DeviceLoader puts it
    back, so a resumed run's dropout masks match an uninterrupted run's."""
    loader = build_dataloader(cfg.DataLoader.Train, seed=5)
    torch.manual_seed(0)
    batches = iter(loader)
    after_iter = torch.rand(3)
    next(batches)
    torch.manual_seed(0)
    assert torch.equal(after_iter, torch.rand(3))


def test_batch_ops_keep_normalisation_per_image_and_say_why(cfg, caplog):
    split = cfg.DataLoader.Train
    split.dataset.batch_transform_ops = [{"MixupOperator": {"alpha": 0.2}}]
    with caplog.at_level("INFO", logger="torchclas.data.loader"):
        loader = build_dataloader(split, seed=5, class_num=3)
    assert loader.late_normalize is None and "batch_transform_ops" in caplog.text


def test_batch_paths_name_the_files_of_a_batch(cfg, tiny_data):
    loader = build_dataloader(cfg.DataLoader.Eval)
    loader.batch_sampler.set_epoch(0)
    assert loader.batch_paths(1) == [str(tiny_data / f"val/{i:04d}.png") for i in range(8, 16)]


def test_an_op_after_normalize_keeps_normalisation_per_image(cfg):
    split = cfg.DataLoader.Train
    split.dataset.transform_ops = [*split.dataset.transform_ops, {"RandomErasing": {"EPSILON": 0.5}}]
    loader = build_dataloader(split, seed=5)
    assert loader.late_normalize is None and _epoch(loader, 1)[0][0].dtype == torch.float32


def test_random_transforms_change_with_epoch_and_seed(cfg):
    split = cfg.DataLoader.Train
    loader = build_dataloader(split, seed=5)
    again = _epoch(loader, 1)
    assert all(torch.equal(a[0], b[0]) for a, b in zip(_epoch(loader, 1), again))
    epoch2 = _epoch(loader, 2)
    assert not torch.equal(torch.cat([b[0] for b in again]), torch.cat([b[0] for b in epoch2]))
    other_seed = _epoch(build_dataloader(split, seed=6), 1)
    assert not torch.equal(again[0][0], other_seed[0][0])


def test_eval_loader_keeps_file_order(cfg, tiny_data):
    loader = build_dataloader(cfg.DataLoader.Eval)
    labels = torch.cat([labels for _, labels, _ in loader])
    assert labels.tolist() == [i % 3 for i in range(24)]
    assert len(loader.base_dataset) == 24


def test_missing_label_file_names_the_key(cfg, tmp_path):
    split = cfg.DataLoader.Train
    split.dataset.cls_label_path = str(tmp_path / "nope.txt")
    with pytest.raises(FileNotFoundError, match=r"dataset\.cls_label_path: file not found: '.*nope\.txt'"):
        build_dataloader(split)


def test_missing_image_root_names_the_key(cfg, tmp_path):
    split = cfg.DataLoader.Eval
    split.dataset.image_root = str(tmp_path / "no_such_dir")
    with pytest.raises(FileNotFoundError, match=r"dataset\.image_root: folder not found: '.*no_such_dir'"):
        build_dataloader(split)


def test_file_list_dataset_without_label_file(cfg):
    split = cfg.DataLoader.Eval
    split.dataset.cls_label_path = None
    with pytest.raises(ValueError, match="needs cls_label_path"):
        build_dataloader(split)
