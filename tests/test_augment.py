"""Single-image augmentations: AutoAugment, RandAugment, TimmAutoAugment, ColorJitter and the masking ops."""

from __future__ import annotations

import io
import random

import pytest
import torch
from PIL import Image
from torchvision import tv_tensors

from torchclas.data.augment import AugMix, AutoAugment, ColorJitter, RandAugment, TimmAutoAugment
from torchclas.data.masking import Cutout, GridMask, HideAndSeek, RandomErasing, grid_mask
from torchclas.data.pipeline import build_transforms, check_ops
from torchclas.data.registry import BATCH_OPS, NOT_YET_IMPLEMENTED_OPS, TRANSFORMS

pytestmark = pytest.mark.filterwarnings("ignore:The image decoding and encoding capabilities:DeprecationWarning")


def uint8_image(channels: int, size: int = 28, seed: int = 0) -> tv_tensors.Image:
    generator = torch.Generator().manual_seed(seed)
    return tv_tensors.Image(torch.randint(1, 256, (channels, size, size), dtype=torch.uint8, generator=generator))


def seeded(op, image, seed: int):
    torch.manual_seed(seed)
    return op(image)


# ---------------------------------------------------------------- registry

def test_ops_are_registered_and_no_longer_not_yet():
    names = {"AutoAugment", "RandAugment", "AugMix", "TimmAutoAugment", "ColorJitter", "RandomErasing", "Cutout",
             "GridMask", "HideAndSeek", "MixupOperator", "CutmixOperator", "OpSampler"}
    assert names <= set(TRANSFORMS) | set(BATCH_OPS)  # one table per list kind since issue 19
    assert not names & NOT_YET_IMPLEMENTED_OPS


# ---------------------------------------------------------------- policy and colour ops

POLICY_OPS = {
    "AutoAugment": lambda: AutoAugment(),
    "RandAugment": lambda: RandAugment(num_layers=2, magnitude=9),
    "AugMix": lambda: AugMix(prob=1.0, aug_severity=3, mixture_depth=-1),
    "TimmAutoAugment-rand": lambda: TimmAutoAugment(config_str="rand-m9-mstd0.5-inc1", img_size=28),
    "TimmAutoAugment-augmix": lambda: TimmAutoAugment(config_str="augmix-m3-w2", img_size=28),
    "TimmAutoAugment-original": lambda: TimmAutoAugment(config_str="original-mstd0.5", img_size=28),
    "ColorJitter": lambda: ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1),
}


@pytest.mark.parametrize("channels", [3, 1])
@pytest.mark.parametrize("name", list(POLICY_OPS))
def test_policy_ops_keep_shape_dtype_change_pixels_and_are_deterministic(name, channels):
    op, image = POLICY_OPS[name](), uint8_image(channels)
    outputs = [seeded(op, image, seed) for seed in range(8)]
    for seed, out in enumerate(outputs):
        assert out.shape == image.shape and out.dtype == torch.uint8
        assert isinstance(out, tv_tensors.Image)
        assert torch.equal(out, seeded(op, image, seed))
    assert any(not torch.equal(out, image) for out in outputs)
    assert any(not torch.equal(a, b) for a, b in zip(outputs, outputs[1:]))


def test_timm_auto_augment_restores_python_and_numpy_state():
    import numpy as np

    random.seed(3)
    np.random.seed(3)
    expected = (random.random(), np.random.rand())
    random.seed(3)
    np.random.seed(3)
    TimmAutoAugment(config_str="rand-m9-mstd0.5-inc1", img_size=28)(uint8_image(3))
    assert (random.random(), np.random.rand()) == expected


def test_policy_ops_refuse_float_images_and_say_where_they_belong():
    for op in (AutoAugment(), RandAugment(), AugMix(prob=1.0), TimmAutoAugment(img_size=28),
               ColorJitter(brightness=0.5)):
        with pytest.raises(ValueError, match="before NormalizeImage"):
            op(torch.rand(3, 8, 8))


def test_policy_op_parameter_errors():
    with pytest.raises(ValueError, match=r"magnitude must be an integer in 0\.\.10"):
        RandAugment(magnitude=11)
    with pytest.raises(ValueError, match=r"TimmAutoAugment: bad config_str 'rand-x9'"):
        TimmAutoAugment(config_str="rand-x9")
    with pytest.raises(ValueError, match="TimmAutoAugment: bad config_str 'nonsense'"):
        TimmAutoAugment(config_str="nonsense")
    with pytest.raises(ValueError, match=r"ColorJitter: hue must be a number in \[0, 0.5\]"):
        ColorJitter(hue=0.7)
    with pytest.raises(ValueError, match=r"AugMix: aug_severity must be in 1\.\.10"):
        AugMix(aug_severity=11)


def test_color_jitter_prob_and_gray_images():
    image = uint8_image(3)
    assert all(torch.equal(seeded(ColorJitter(brightness=0.8, prob=0.0), image, s), image) for s in range(5))
    gray = uint8_image(1)
    only_colour = ColorJitter(saturation=0.8, hue=0.4)
    assert all(torch.equal(seeded(only_colour, gray, s), gray) for s in range(5))
    assert not torch.equal(seeded(ColorJitter(brightness=0.8), gray, 0), gray)


# ---------------------------------------------------------------- RandomErasing

@pytest.mark.parametrize("use_log_aspect", [False, True])
def test_random_erasing_erases_one_rectangle_of_the_configured_area_and_aspect(use_log_aspect):
    image = torch.ones(3, 40, 50)
    op = RandomErasing(EPSILON=1.0, sl=0.1, sh=0.3, r1=0.5, use_log_aspect=use_log_aspect)
    for seed in range(30):
        out = seeded(op, image, seed)
        erased = (out == 0).all(dim=0)
        assert ((out == 0) | (out == 1)).all() and (out == 0).any(dim=0).eq(erased).all()
        rows, cols = erased.any(dim=1).nonzero(), erased.any(dim=0).nonzero()
        h, w = int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)
        assert int(erased.sum()) == h * w  # one filled rectangle
        area = h * w / (40 * 50)
        # h and w are rounded to whole pixels: allow one pixel on each side
        assert (h - 1) * (w - 1) / 2000 <= 0.3 and (h + 1) * (w + 1) / 2000 >= 0.1, area
        assert (h - 0.5) / (w + 0.5) <= 2.0 and (h + 0.5) / (w - 0.5) >= 0.5


def test_random_erasing_epsilon_zero_is_identity():
    image = torch.rand(3, 16, 16)
    op = RandomErasing(EPSILON=0.0)
    assert all(torch.equal(seeded(op, image, s), image) for s in range(20))


def test_random_erasing_modes_on_uint8_and_gray():
    image = uint8_image(1, 32)
    out = seeded(RandomErasing(EPSILON=1.0, mode="pixel", sl=0.2, sh=0.4), image, 0)
    assert out.dtype == torch.uint8 and out.shape == image.shape and not torch.equal(out, image)
    const = seeded(RandomErasing(EPSILON=1.0, mean=[7, 8, 9], sl=0.2, sh=0.4), image, 0)
    assert int((const == 7).sum()) >= 0.2 * 32 * 32 * 0.8  # a gray image takes the first mean value
    rand = seeded(RandomErasing(EPSILON=1.0, mode="rand"), torch.zeros(3, 32, 32), 1)
    changed = rand.ne(0).any(dim=0)
    assert changed.any() and all(rand[c][changed].unique().numel() == 1 for c in range(3))


def test_random_erasing_accepts_arithmetic_strings_and_rejects_bad_mode():
    assert RandomErasing(sh="1.0/3.0").sh == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="mode must be 'const', 'rand' or 'pixel'"):
        RandomErasing(mode="noise")


# ---------------------------------------------------------------- Cutout

@pytest.mark.parametrize("n_holes", [1, 3])
def test_cutout_zeroes_exactly_its_squares_clipped_at_borders(n_holes):
    image = torch.ones(2, 28, 30)
    op = Cutout(n_holes=n_holes, length=8)
    for seed in range(20):
        torch.manual_seed(seed)
        params = op.make_params([image])
        out = seeded(op, image, seed)
        expected = torch.zeros(28, 30, dtype=torch.bool)
        for y1, y2, x1, x2 in params["boxes"]:
            assert y2 - y1 == 8 or y1 == 0 or y2 == 28
            assert x2 - x1 == 8 or x1 == 0 or x2 == 30
            expected[y1:y2, x1:x2] = True
        assert len(params["boxes"]) == n_holes
        assert torch.equal(out == 0, expected.expand(2, -1, -1))


def test_cutout_on_uint8_with_random_fill():
    out = seeded(Cutout(n_holes=2, length=10, fill_value=None), uint8_image(3, 32), 0)
    assert out.dtype == torch.uint8 and out.shape == (3, 32, 32)


# ---------------------------------------------------------------- GridMask

def test_grid_mask_bands():
    assert grid_mask(4, 4, d=2, hidden=1, start=(0, 0)).int().tolist() == [
        [0, 1, 0, 1], [1, 1, 1, 1], [0, 1, 0, 1], [1, 1, 1, 1]]
    assert torch.equal(grid_mask(6, 6, 3, 1, (1, 2), mode=1), ~grid_mask(6, 6, 3, 1, (1, 2), mode=0))


@pytest.mark.parametrize("mode", [0, 1])
def test_grid_mask_hides_the_expected_fraction(mode):
    ratio, size = 0.4, 96
    op = GridMask(d1=8, d2=16, ratio=ratio, mode=mode)
    fractions, expected = [], []
    for seed in range(40):
        out = seeded(op, torch.ones(3, size, size), seed)
        assert out.shape == (3, size, size)
        fractions.append(float((out == 0).float().mean()))
    for d in range(8, 16):
        kept = 1 - int(d * ratio + 0.5) / d
        expected.append(1 - kept**2 if mode == 0 else kept**2)
    assert abs(sum(fractions) / len(fractions) - sum(expected) / len(expected)) < 0.05


def test_grid_mask_prob_zero_rotation_and_small_images():
    image = torch.rand(1, 28, 28)
    assert torch.equal(seeded(GridMask(prob=0.0), image, 0), image)
    op = GridMask()  # 96..224 px periods, meant for 224-px images
    assert op.period_range(28, 28) == (12, 28) and op.period_range(224, 300) == (96, 224)
    hidden = [float((seeded(op, torch.ones(1, 28, 28), s) == 0).float().mean()) for s in range(10)]
    assert all(0.3 < h < 1.0 for h in hidden)
    rotated = seeded(GridMask(d1=8, d2=12, rotate=45), uint8_image(3, 32), 3)
    assert rotated.dtype == torch.uint8 and (rotated == 0).any()


# ---------------------------------------------------------------- HideAndSeek

def test_hide_and_seek_hides_only_whole_patches():
    image = uint8_image(3, 30)
    op = HideAndSeek(grid_sizes=[0, 4, 7], hide_prob=0.5)
    grids = set()
    for seed in range(30):
        torch.manual_seed(seed)
        grid = op.make_params([image])["grid"]
        grids.add(grid)
        out = seeded(op, image, seed)
        if grid == 0:
            assert torch.equal(out, image)
            continue
        for y in range(0, 30, grid):
            for x in range(0, 30, grid):
                patch, original = out[:, y:y + grid, x:x + grid], image[:, y:y + grid, x:x + grid]
                assert (patch == 0).all() or torch.equal(patch, original)
    assert grids == {0, 4, 7}


def test_hide_and_seek_default_sizes_scale_down_on_small_images():
    op = HideAndSeek()
    assert op.sizes_for(28, 28) == (0, 2, 4, 6, 7)
    assert op.sizes_for(224, 320) == (0, 16, 32, 44, 56)
    for seed in range(10):
        out = seeded(op, torch.ones(1, 28, 28), seed)
        assert out.shape == (1, 28, 28)
    assert seeded(HideAndSeek(grid_sizes=[64], hide_prob=1.0), torch.ones(1, 28, 28), 0).eq(0).all()


# ---------------------------------------------------------------- pipelines and config checks

def test_gray_pipeline_with_every_op_runs_and_is_reproducible():
    buffer = io.BytesIO()
    Image.fromarray(uint8_image(1).numpy()[0], "L").save(buffer, "PNG")
    ops = [{"DecodeImage": {"channel_num": 1}}, {"AutoAugment": None}, {"RandAugment": {"magnitude": 9}},
           {"AugMix": {"prob": 0.5}},
           {"TimmAutoAugment": {"img_size": 28}}, {"ColorJitter": {"brightness": 0.4, "saturation": 0.4}},
           {"NormalizeImage": {"mean": [0.5], "std": [0.5]}}, {"ToCHWImage": None},
           {"RandomErasing": {"EPSILON": 0.5, "mode": "pixel"}}, {"Cutout": {"length": 6}},
           {"GridMask": None}, {"HideAndSeek": None}]
    tf = build_transforms(ops)
    outs = [seeded(tf, buffer.getvalue(), 4) for _ in range(2)]
    assert outs[0].shape == (1, 28, 28) and outs[0].dtype == torch.float32
    assert torch.equal(outs[0], outs[1])


def test_check_ops_names_closest_parameter_and_rejects_batch_ops():
    with pytest.raises(ValueError) as info:
        check_ops([{"RandomErasing": {"EPSILONN": 0.5}}], "DataLoader.Train.dataset.transform_ops")
    assert str(info.value).startswith("DataLoader.Train.dataset.transform_ops[0]: RandomErasing has no "
                                      "parameter 'EPSILONN' (did you mean 'EPSILON'?)")
    with pytest.raises(ValueError, match=r"ops\[1\]: 'MixupOperator' is a batch op; list it under "
                                         r"dataset\.batch_transform_ops"):
        check_ops([{"DecodeImage": None}, {"MixupOperator": {"alpha": 0.2}}], "ops")
    with pytest.raises(ValueError, match=r"ops\[0\]: GridMask: ratio must be a number in \[0, 1\]"):
        check_ops([{"GridMask": {"ratio": 2}}], "ops")


def test_timm_posterize_keeping_zero_bits_is_black():
    """``PosterizeIncreasing`` at magnitude 10 keeps 0 bits (PPHGNet's rand-m15 reaches it often):
    a black image, as old Pillow gave, where recent Pillow raises."""
    op = TimmAutoAugment(config_str="rand-m15-mstd0.5-inc1", img_size=8)
    post = next(o for o in op.color.ops if o.name == "PosterizeIncreasing")
    post.prob, post.magnitude_std = 1.0, 0.0
    image = Image.new("RGB", (8, 8), (200, 100, 50))
    assert post(image).getcolors() == [(64, (0, 0, 0))]
    post.magnitude = 5  # 4 - int(0.5 * 4) = 2 bits kept
    assert post(image).getpixel((0, 0)) == (192, 64, 0)
    image = tv_tensors.Image(torch.randint(0, 256, (3, 16, 16), dtype=torch.uint8))
    for seed in range(20):  # the whole op at magnitude 15 +- noise runs
        torch.manual_seed(seed)
        assert op(image).shape == (3, 16, 16)
