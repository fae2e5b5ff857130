"""FmixOperator (Fourier-sampled masks) and MixupCutmixHybrid (timm's Mixup/CutMix switch)."""

from __future__ import annotations

import pytest
import torch

from torchclas.data.batch_ops import OpSampler
from torchclas.data.fmix import FmixOperator, binarise_mask, low_freq_image, sample_mask
from torchclas.data.mix_hybrid import MixupCutmixHybrid
from torchclas.data.pipeline import build_batch_ops


def run(op, images, labels, seed):
    torch.manual_seed(seed)
    return op(images, labels)


def flat_images(count: int, size: int = 16) -> torch.Tensor:
    """Image ``i`` is filled with the value ``i``, so every pixel tells whose it is."""
    return torch.arange(count, dtype=torch.float32)[:, None, None, None].expand(count, 3, size, size).clone()


def own_share(images: torch.Tensor, index: int) -> float:
    return float((images[index, 0] == index).float().mean())


# ---------------------------------------------------------------- FMix

def test_binarised_mask_has_mean_lam_and_keeps_the_largest_pixels():
    torch.manual_seed(0)
    noise = torch.randn(20, 30)
    for lam in (0.1, 0.37, 0.5, 0.93):
        mask = binarise_mask(noise, lam)
        assert set(mask.unique().tolist()) <= {0.0, 1.0}
        assert abs(float(mask.mean()) - lam) <= 1 / 600
        assert float(noise[mask == 1].min()) >= float(noise[mask == 0].max())


def test_soft_mask_ramps_but_keeps_its_mean():
    torch.manual_seed(1)
    mask = binarise_mask(torch.randn(32, 32), 0.4, max_soft=0.1)
    fractional = ((mask > 0) & (mask < 1)).sum()
    assert 150 < int(fractional) <= 2 * 102 + 1  # 2 * int(0.1 * 1024) pixels ramp
    assert abs(float(mask.mean()) - 0.4) <= 1 / 1024


def test_low_frequency_masks_are_smooth_blobs():
    """Neighbouring pixels of a decay_power 3 mask almost always agree; white noise's do half the time."""
    def edge_share(decay_power: float) -> float:
        torch.manual_seed(2)
        mask = binarise_mask(low_freq_image(64, 64, decay_power), 0.5)
        return float((mask[:, 1:] != mask[:, :-1]).float().mean())

    assert edge_share(3.0) < 0.1 < 0.3 < edge_share(0.0)


def test_reformulate_draws_lam_from_beta_alpha_plus_one():
    torch.manual_seed(3)
    plain = torch.tensor([float(sample_mask(1.0, 3.0, 8, 8).mean()) for _ in range(300)])
    reform = torch.tensor([float(sample_mask(1.0, 3.0, 8, 8, reformulate=True).mean()) for _ in range(300)])
    assert abs(float(plain.mean()) - 0.5) < 0.06  # Beta(1, 1)
    assert abs(float(reform.mean()) - 2 / 3) < 0.06  # Beta(2, 1)


def test_fmix_targets_are_the_pixel_shares_of_each_image():
    op = FmixOperator(class_num=6, alpha=1.0)
    images, targets = run(op, flat_images(6), torch.arange(6), seed=4)
    assert images.shape == (6, 3, 16, 16) and targets.shape == (6, 6)
    assert torch.allclose(targets.sum(1), torch.ones(6))
    assert (targets.diagonal() < 1).any()  # something mixed, so the loop below checks shares
    for i in range(6):
        if targets[i, i] < 1:  # mixed with another image
            assert own_share(images, i) == pytest.approx(float(targets[i, i]), abs=1e-6)
            partner = int(images[i, 0][images[i, 0] != i][0])
            assert float(targets[i, partner]) == pytest.approx(1 - own_share(images, i), abs=1e-6)
    # one mask for the whole batch: the same pixels come from the partner in every image
    keep = images[0, 0] == 0
    assert all(bool(((images[i, 0] == i) == keep).all()) for i in range(6) if targets[i, i] < 1)


def test_fmix_is_deterministic_per_seed_and_keeps_uint8():
    op = FmixOperator(class_num=3, alpha=0.5, decay_power=2, max_soft=0.1)
    images = torch.randint(0, 255, (4, 3, 12, 10), dtype=torch.uint8)
    labels = torch.tensor([0, 1, 2, 1])
    first, second, other = run(op, images, labels, 5), run(op, images, labels, 5), run(op, images, labels, 6)
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])
    assert not torch.equal(first[0], other[0])
    assert first[0].dtype == torch.uint8 and first[0].shape == (4, 3, 12, 10)


def test_fmix_parameter_errors():
    with pytest.raises(ValueError, match="alpha and decay_power must be > 0"):
        FmixOperator(class_num=3, alpha=0)
    with pytest.raises(ValueError, match=r"max_soft must be a number in \[0, 0.5\]"):
        FmixOperator(class_num=3, max_soft=0.7)
    with pytest.raises(ValueError, match="needs class_num"):
        FmixOperator()


def test_op_sampler_picks_fmix():
    sampler = OpSampler(class_num=3, FmixOperator={"alpha": 1.0, "prob": 1.0})
    images, targets = run(sampler, flat_images(4, 8), torch.tensor([0, 1, 2, 0]), seed=7)
    assert targets.shape == (4, 3) and torch.allclose(targets.sum(1), torch.ones(4))


# ---------------------------------------------------------------- MixupCutmixHybrid

def test_hybrid_mixup_blends_each_image_with_the_flipped_batch():
    op = MixupCutmixHybrid(class_num=4, mixup_alpha=0.8, cutmix_alpha=0.0, label_smoothing=0.0)
    x = torch.rand(4, 3, 8, 8)
    images, targets = run(op, x, torch.arange(4), seed=8)
    lam = float(targets[0, 0])
    assert 0 < lam < 1
    assert torch.allclose(images, lam * x + (1 - lam) * x.flip(0), atol=1e-6)
    assert torch.allclose(targets, lam * torch.eye(4) + (1 - lam) * torch.eye(4).flip(0))


def test_hybrid_cutmix_targets_match_the_pasted_area():
    op = MixupCutmixHybrid(class_num=4, mixup_alpha=0.0, cutmix_alpha=1.0, label_smoothing=0.0)
    for seed in range(5):
        images, targets = run(op, flat_images(4), torch.arange(4), seed)
        for i in range(4):
            assert own_share(images, i) == pytest.approx(float(targets[i, i]), abs=1e-6)
            assert float(targets[i, 3 - i]) == pytest.approx(1 - own_share(images, i), abs=1e-6)


def test_hybrid_label_smoothing_and_prob_zero():
    op = MixupCutmixHybrid(class_num=5, prob=0.0, label_smoothing=0.1)
    x = torch.rand(4, 3, 8, 8)
    images, targets = run(op, x, torch.tensor([0, 1, 2, 3]), seed=9)
    assert torch.equal(images, x)
    expected = torch.full((4, 5), 0.02)
    expected[torch.arange(4), torch.arange(4)] = 0.92
    assert torch.allclose(targets, expected)


def test_hybrid_elem_and_pair_modes():
    labels = torch.arange(6)
    elem = MixupCutmixHybrid(class_num=6, mixup_alpha=1.0, cutmix_alpha=1.0, mode="elem", label_smoothing=0.0)
    images, targets = run(elem, flat_images(6), labels, seed=10)
    own = targets.diagonal()
    assert len(set(own.tolist())) > 1  # each image its own draw
    assert torch.allclose(targets.sum(1), torch.ones(6))
    pair = MixupCutmixHybrid(class_num=6, mixup_alpha=0.0, cutmix_alpha=1.0, mode="pair", label_smoothing=0.0)
    images, targets = run(pair, flat_images(6), labels, seed=11)
    for i in range(3):  # i and 5 - i swap the same box
        j = 5 - i
        assert targets[i, i] == targets[j, j]
        assert torch.equal(images[i, 0] == j, images[j, 0] == i)
        assert own_share(images, i) == pytest.approx(float(targets[i, i]), abs=1e-6)


def test_hybrid_odd_batch_pairs_the_middle_image_with_itself():
    op = MixupCutmixHybrid(class_num=5, mode="pair", label_smoothing=0.0)
    images, targets = run(op, flat_images(5), torch.arange(5), seed=12)
    assert torch.equal(images[2], flat_images(5)[2]) and float(targets[2, 2]) == 1.0
    assert torch.allclose(targets.sum(1), torch.ones(5))


def test_hybrid_cutmix_minmax_boxes_stay_in_range():
    op = MixupCutmixHybrid(class_num=2, mixup_alpha=0.0, cutmix_minmax=[0.25, 0.5])
    assert op.cutmix_alpha == 1.0
    torch.manual_seed(13)
    for _ in range(20):
        (y1, y2, x1, x2), lam = op.box(40, 20, 0.5)
        assert 10 <= y2 - y1 < 20 and 5 <= x2 - x1 < 10 and 0 <= y1 and y2 <= 40 and x2 <= 20
        assert lam == pytest.approx(1 - (y2 - y1) * (x2 - x1) / 800)


def test_hybrid_is_deterministic_per_seed():
    op = MixupCutmixHybrid(class_num=3, mixup_alpha=0.8, cutmix_alpha=1.0, mode="elem")
    x, labels = torch.rand(4, 3, 8, 8), torch.tensor([0, 1, 2, 0])
    first, second = run(op, x, labels, 14), run(op, x, labels, 14)
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])


def test_hybrid_class_count_and_parameter_errors():
    assert MixupCutmixHybrid(num_classes=7).class_num == 7
    assert MixupCutmixHybrid(class_num=7).class_num == 7
    with pytest.raises(ValueError, match="num_classes 1000 differs from class_num 3"):
        MixupCutmixHybrid(class_num=3, num_classes=1000)
    with pytest.raises(ValueError, match="set mixup_alpha > 0, cutmix_alpha > 0 or cutmix_minmax"):
        MixupCutmixHybrid(class_num=3, mixup_alpha=0.0)
    with pytest.raises(ValueError, match="mode must be one of batch, pair, elem"):
        MixupCutmixHybrid(class_num=3, mode="pairs")
    with pytest.raises(ValueError, match=r"cutmix_minmax must be \[min, max\]"):
        MixupCutmixHybrid(class_num=3, cutmix_minmax=[0.8, 0.2])


def test_hybrid_from_an_op_list_gets_class_num():
    ops = build_batch_ops([{"MixupCutmixHybrid": {"mixup_alpha": 0.8, "cutmix_alpha": 1.0, "num_classes": 3}}], 3)
    images, targets = run(ops, torch.rand(4, 3, 8, 8), torch.tensor([0, 1, 2, 0]), seed=15)
    assert targets.shape == (4, 3) and torch.allclose(targets.sum(1), torch.ones(4))
