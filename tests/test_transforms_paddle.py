"""The per-image ops added for PaddleClas's own configs: what each does to an image (sizes, pixel
values, randomness per seed, probability 0 and 1) and its parameter errors."""

import pytest
import torch
from torchvision import tv_tensors
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as F

from torchclas.data.augment import TimmAutoAugment
from torchclas.data.geometry import (CropImageAtRatio, CropWithPadding, Pad, Padv2, RandCropImageV2, RandomCropImage,
                                     RandomRotation)
from torchclas.data.label_ops import BlurImage, RandomRot90, motion_kernel
from torchclas.data.op_lists import make_op
from torchclas.data.photometric import PCA_EIGVAL, PCA_EIGVEC, PCALighting, RandomInterpolationAugment
from torchclas.data.pipeline import LabelCompose, build_transforms, check_ops, label_keys, split_late_normalize
from torchclas.data.randaugment import RandAugmentV2, RandAugmentV3, RandAugmentV4, cutout, solarize_add
from torchclas.data.registry import NOT_YET_IMPLEMENTED_OPS, TRANSFORMS
from torchclas.data.transforms import NormalizeImage, RandCropImage
from torchclas.data.vision_ops import (CenterCrop, Normalize, RandomGrayscale, RandomHorizontalFlip,
                                       RandomResizedCrop, Resize, ToTensor)

NEW_OPS = ["Pad", "Padv2", "CropWithPadding", "RandomCropImage", "RandCropImageV2", "CropImageAtRatio",
           "RandomRotation", "ToTensor", "Normalize", "RandomHorizontalFlip", "RandomResizedCrop", "CenterCrop",
           "Resize", "RandomGrayscale", "RandAugmentV2", "RandAugmentV3", "RandAugmentV4", "PCALighting",
           "RandomInterpolationAugment", "BlurImage", "RandomRot90"]


def photo(channels: int = 3, height: int = 32, width: int = 32, seed: int = 0) -> tv_tensors.Image:
    """A random uint8 image with some structure (a gradient plus noise)."""
    gen = torch.Generator().manual_seed(seed)
    ramp = torch.linspace(0, 200, width).expand(channels, height, width)
    noise = torch.randint(0, 55, (channels, height, width), generator=gen)
    return tv_tensors.Image((ramp + noise).to(torch.uint8))


def seeded(op, image, seed):
    torch.manual_seed(seed)
    return op(image)


def assert_random_per_seed(op, image, seeds=range(6)):
    """Same seed, same output; the seeds do not all give the same output."""
    outs = [seeded(op, image, s) for s in seeds]
    again = [seeded(op, image, s) for s in seeds]
    key = (lambda o: o[0]) if isinstance(outs[0], tuple) else (lambda o: o)
    for a, b in zip(outs, again):
        assert torch.equal(key(a), key(b))
    assert any(not torch.equal(key(outs[0]), key(o)) or key(outs[0]).shape != key(o).shape for o in outs[1:])


def test_new_ops_are_registered_by_their_paddleclas_names():
    for name in NEW_OPS:
        assert name in TRANSFORMS and name not in NOT_YET_IMPLEMENTED_OPS
        assert TRANSFORMS[name].__name__ == name
    assert check_ops([{name: None} for name in ["PCALighting", "RandomRot90", "BlurImage", "RandAugmentV4"]],
                     "ops") == []


# ------------------------------------------------------------------ RandCropImage random / TimmAutoAugment prob

def test_randcropimage_random_interpolation_draws_bilinear_or_bicubic_per_image():
    op = RandCropImage(size=8, interpolation="random")
    img = photo()
    picks = {seeded(op.make_params, [img], s)["interpolation"] for s in range(40)}
    assert picks == {InterpolationMode.BILINEAR, InterpolationMode.BICUBIC}
    torch.manual_seed(3)
    params = op.make_params([img])
    expected = F.resized_crop(img, params["top"], params["left"], params["height"], params["width"], [8, 8],
                              interpolation=params["interpolation"], antialias=True)
    assert torch.equal(op.transform(img, params), expected)
    assert_random_per_seed(op, img)
    assert "interpolation" not in RandCropImage(size=8, interpolation="bicubic").make_params([img])


def test_randcropimage_random_interpolation_on_the_fused_jpeg_path():
    import io

    from PIL import Image
    buffer = io.BytesIO()
    Image.fromarray(photo(height=64, width=64).permute(1, 2, 0).numpy()).save(buffer, "JPEG")
    ops = [{"DecodeImage": None}, {"RandCropImage": {"size": 16, "interpolation": "random"}}]
    torch.manual_seed(0)
    fused = build_transforms(ops, fast_decode=True)(buffer.getvalue())
    torch.manual_seed(0)
    exact = build_transforms(ops, fast_decode=False)(buffer.getvalue())
    assert fused.shape == exact.shape == (3, 16, 16)
    assert (fused.float() - exact.float()).abs().mean() < 4


def test_randcropimage_progress_size_is_checked():
    assert RandCropImage(size=8, progress_size=[4, 6, 8]).progress_size == [4, 6, 8]
    with pytest.raises(ValueError, match="progress_size"):
        RandCropImage(size=8, progress_size=[4, -1])


def test_timm_autoaugment_prob_zero_and_one():
    img = photo()
    never = TimmAutoAugment(config_str="rand-m9-mstd0.5-inc1", img_size=32, prob=0.0)
    assert all(torch.equal(seeded(never, img, s), img) for s in range(5))
    always = TimmAutoAugment(config_str="rand-m9-mstd0.5-inc1", img_size=32, prob=1.0)
    assert sum(not torch.equal(seeded(always, img, s), img) for s in range(5)) >= 4
    half = TimmAutoAugment(config_str="rand-m9-mstd0.5-inc1", img_size=32, prob=0.5)
    changed = sum(not torch.equal(seeded(half, img, s), img) for s in range(40))
    assert 8 < changed < 32
    assert torch.equal(seeded(TimmAutoAugment(config_str=None, img_size=32), img, 0), img)
    with pytest.raises(ValueError, match="prob"):
        TimmAutoAugment(prob=1.5)


# ------------------------------------------------------------------ geometry

def test_pad_fills_every_side_and_honours_lists_and_modes():
    img = torch.full((3, 2, 3), 50, dtype=torch.uint8)
    out = Pad(padding=2, fill=9)(img)
    assert out.shape == (3, 6, 7) and int((out == 9).sum()) == 3 * (6 * 7 - 2 * 3)
    assert torch.equal(out[:, 2:4, 2:5], img)
    out = Pad(padding=[1, 2, 3, 4], fill=[1, 2, 3])(img)  # left, top, right, bottom
    assert out.shape == (3, 2 + 2 + 4, 3 + 1 + 3) and out[:, 0, 0].tolist() == [1, 2, 3]
    assert torch.equal(Pad(padding=1, padding_mode="edge")(img), torch.full((3, 4, 5), 50, dtype=torch.uint8))
    for bad in ({"padding": -1}, {"padding": [1, 2, 3]}, {"padding": 1, "padding_mode": "wrap"},
                {"padding": 1, "backend": "tf"}):
        with pytest.raises(ValueError, match="Pad"):
            Pad(**bad)


def test_padv2_places_the_image_by_mode_on_a_float_canvas():
    img = torch.full((3, 3, 5), 200, dtype=torch.uint8)
    top_left = Padv2(size=8)(img)
    assert top_left.dtype == torch.float32 and top_left.shape == (3, 8, 8)
    assert (top_left[:, :3, :5] == 200).all() and (top_left[:, 3:, :] == 127.5).all()
    bottom_right = Padv2(size=[8, 8], pad_mode=2)(img)
    assert (bottom_right[:, 5:, 3:] == 200).all()
    offset = Padv2(size=[8, 8], pad_mode=-1, offsets=[2, 1], fill_value=[0, 0, 0])(img)
    assert int((offset == 200).sum()) == 3 * 15 and (offset[:, 1:4, 2:7] == 200).all()
    assert Padv2(size_divisor=4)(img).shape == (3, 4, 8)
    with pytest.raises(ValueError, match="larger than size"):
        Padv2(size=4)(img)
    with pytest.raises(ValueError, match="offsets"):
        Padv2(size=8, pad_mode=-1)


def test_crop_with_padding_keeps_the_box_in_place():
    img = photo(height=16, width=16) | 1  # no zero pixel
    op = CropWithPadding(prob=1, padding_num=0, scale=[0.25, 0.25], ratio=[1, 1])
    out = seeded(op, img, 0)
    assert out.shape == img.shape and out.dtype == torch.uint8
    kept = out != 0
    assert int(kept[0].sum()) == 64 and torch.equal(out[kept], img[kept])
    rows, cols = kept[0].nonzero().unbind(1)
    assert rows.max() - rows.min() == 7 and cols.max() - cols.min() == 7
    assert_random_per_seed(op, img)
    assert torch.equal(seeded(CropWithPadding(prob=0), img, 0), img)


def test_random_crop_image_and_v2_crop_w_h_at_uniform_positions():
    img = photo(height=10, width=12)
    for cls in (RandomCropImage, RandCropImageV2):
        op = cls(size=[6, 4])  # [w, h]
        out = seeded(op, img, 0)
        assert out.shape == (3, 4, 6)
        assert any(torch.equal(img[:, top:top + 4, left:left + 6], out) for top in range(7) for left in range(7))
        assert_random_per_seed(op, img)
    with pytest.raises(ValueError, match="larger than input image size"):
        RandomCropImage(size=20)(img)


def test_crop_image_at_ratio_is_a_centre_crop_resized():
    img = photo(height=20, width=30)
    out = CropImageAtRatio(size=8, pad=2)(img)  # side int(0.8 * 20) = 16, centred at (2, 7)
    assert out.shape == (3, 8, 8)
    expected = F.resize(img[:, 2:18, 7:23], [8, 8], antialias=True)
    assert torch.equal(out, expected)


def test_random_rotation_moves_a_marker_pixel_and_respects_prob():
    img = torch.zeros(1, 5, 5, dtype=torch.uint8)
    img[0, 0, 2] = 255  # top middle
    out = RandomRotation(degrees=[90, 90], prob=1)(img)  # counter-clockwise: to the left middle
    assert out[0, 2, 0] == 255 and int((out == 255).sum()) == 1
    assert torch.equal(RandomRotation(degrees=30, prob=0)(img), img)
    op = RandomRotation(degrees=45, prob=1.0, fill=7)
    assert_random_per_seed(op, photo())
    for bad in ({"degrees": -3}, {"degrees": [10, 5]}, {"degrees": 5, "center": [1]}):
        with pytest.raises(ValueError, match="RandomRotation"):
            RandomRotation(**bad)


# ------------------------------------------------------------------ paddle.vision names

def test_totensor_and_normalize():
    img = torch.tensor([[[0, 255]], [[51, 102]], [[255, 0]]], dtype=torch.uint8)
    tensor = ToTensor()(img)
    assert tensor.dtype == torch.float32 and tensor[1].flatten().tolist() == pytest.approx([0.2, 0.4])
    out = Normalize(mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5])(tensor)
    assert out[0].flatten().tolist() == pytest.approx([-1.0, 1.0])
    flipped = Normalize(to_rgb=True)(tensor)
    assert torch.equal(flipped[0], tensor[2])
    with pytest.raises(ValueError, match="data_format"):
        ToTensor(data_format="HWC")
    with pytest.raises(ValueError, match="std"):
        Normalize(std=[1, 0, 1])


def test_paddle_vision_geometry_sizes_are_h_w():
    img = photo(height=12, width=16)
    assert CenterCrop([4, 6])(img).shape == (3, 4, 6)
    assert Resize(6)(img).shape == (3, 6, 8) and Resize([5, 7])(img).shape == (3, 5, 7)
    assert seeded(RandomResizedCrop([4, 6]), img, 0).shape == (3, 4, 6)
    assert torch.equal(RandomHorizontalFlip(prob=1)(img), img.flip(-1))
    assert torch.equal(RandomHorizontalFlip(prob=0)(img), img)
    gray = RandomGrayscale(p=1)(img)
    assert gray.shape == img.shape and torch.equal(gray[0], gray[1])
    assert torch.equal(RandomGrayscale(p=0)(img), img)


# ------------------------------------------------------------------ RandAugment variants

def test_randaugment_variants_keep_shape_dtype_and_vary_per_seed():
    for op in (RandAugmentV2(num_layers=2, magnitude=5), RandAugmentV3(num_layers=2, interpolation="bicubic"),
               RandAugmentV4()):
        for img in (photo(), photo(channels=1)):
            out = seeded(op, img, 0)
            assert out.shape == img.shape and out.dtype == torch.uint8
        assert_random_per_seed(op, photo(), seeds=range(12))
    assert torch.equal(seeded(RandAugmentV2(num_layers=0), photo(), 0), photo())
    with pytest.raises(ValueError, match="uint8"):
        RandAugmentV3()(torch.zeros(3, 4, 4))
    with pytest.raises(ValueError, match="num_layers"):
        RandAugmentV2(num_layers=-1)


def test_randaugment_levels_follow_paddleclas():
    v2 = RandAugmentV2(magnitude=5, progress_magnitude=[5.0, 8.3333333333, 15.0])
    assert v2.levels["color"] == pytest.approx(1.0) and v2.levels["solarize_add"] == 55
    assert v2.levels["cutout"] == 20 and v2.levels["posterize"] == 2 and v2.progress_magnitude[-1] == 15.0
    v3 = RandAugmentV3(magnitude=3)
    assert v3.levels["posterize"] == 7 and v3.levels["solarize"] == pytest.approx(255 * 0.7)
    assert len(RandAugmentV4().choices) == 15 * 9


def test_randaugment_v2_ops_do_what_paddleclas_does():
    img = photo()
    ops = RandAugmentV2(magnitude=5).ops
    assert torch.equal(ops["color"](img, 1.0), img)  # factor 1 = unchanged (the factor is the level itself)
    moved = ops["translateX"](torch.arange(8, dtype=torch.uint8).expand(1, 2, 8).contiguous(), 3)
    assert sorted(moved[0, 0].tolist()) != list(range(8)) and (moved == 128).sum() == 6  # 3 columns filled
    assert torch.equal(ops["invert"](img, 0), 255 - img)
    assert solarize_add(torch.tensor([[[100, 127, 128, 250]]], dtype=torch.uint8), 200).tolist() == [[[255, 255,
                                                                                                       128, 250]]]
    torch.manual_seed(0)
    holes = cutout(torch.full((1, 20, 20), 9, dtype=torch.uint8), 3, replace=0)
    assert 0 < int((holes == 0).sum()) <= 36


# ------------------------------------------------------------------ PCALighting, RandomInterpolationAugment

def test_pca_lighting_adds_the_expected_per_channel_shift():
    img = photo()
    op = PCALighting()
    out = seeded(op, img, 5)
    torch.manual_seed(5)
    alpha = torch.randn(3) * 0.1
    eigvec, eigval = torch.tensor(PCA_EIGVEC), torch.tensor(PCA_EIGVAL)
    expected = [sum(eigvec[c, j] * alpha[j] * eigval[j] for j in range(3)) for c in range(3)]
    assert out.dtype == torch.float32
    shift = (out - img.float()).mean(dim=(1, 2))
    assert shift.tolist() == pytest.approx([float(e) for e in expected], abs=1e-5)
    assert (out - img.float()).std(dim=(1, 2)).max() < 1e-5  # one shift per channel
    assert_random_per_seed(op, img)
    assert seeded(PCALighting(alphastd=0), img, 0) is img
    big = PCALighting(alphastd=100.0)
    assert (seeded(big, img, 0) - img.float()).abs().max() > 5
    assert NormalizeImage()(out).dtype == torch.float32
    with pytest.raises(ValueError, match="eigvec"):
        PCALighting(eigvec=[[1, 0], [0, 1]])


def test_float_making_ops_keep_normalisation_per_image():
    """A uint8 batch is normalised late, on its device; after PCALighting (float) the workers do it."""
    tail = [{"NormalizeImage": None}, {"ToCHWImage": None}]
    for op in ("PCALighting", "Padv2", "ToTensor", "Normalize"):
        ops = [{"DecodeImage": None}, {op: None}, *tail]
        assert split_late_normalize(ops) == (ops, None)
    head, normalize = split_late_normalize([{"DecodeImage": None}, {"RandAugmentV3": None}, *tail])
    assert head == [{"DecodeImage": None}, {"RandAugmentV3": None}] and isinstance(normalize, NormalizeImage)


def test_random_interpolation_augment_keeps_size_and_degrades():
    img = photo(height=24, width=30)
    op = RandomInterpolationAugment(prob=1.0)
    outs = [seeded(op, img, s) for s in range(8)]
    assert all(o.shape == img.shape and o.dtype == torch.uint8 for o in outs)
    assert sum(not torch.equal(o, img) for o in outs) >= 7
    assert_random_per_seed(op, img)
    assert torch.equal(seeded(RandomInterpolationAugment(prob=0.0), img, 0), img)


# ------------------------------------------------------------------ label ops

def test_blur_image_labels_and_blurs():
    img = photo(height=32, width=32)
    sharp = seeded(BlurImage(ratio=0.0), img, 0)
    assert sharp == (img, {"blur_image": 0})
    blurred, labels = seeded(BlurImage(ratio=1.0), img, 0)
    assert labels == {"blur_image": 1} and blurred.shape == img.shape and blurred.dtype == torch.uint8

    def roughness(x):
        return (x[..., 1:].float() - x[..., :-1].float()).abs().mean()
    for seed in range(6):
        out, _ = seeded(BlurImage(ratio=1.0), img, seed)
        assert roughness(out) < roughness(img)
    counts = sum(seeded(BlurImage(ratio=0.5), img, s)[1]["blur_image"] for s in range(40))
    assert 8 < counts < 32
    assert_random_per_seed(BlurImage(ratio=1.0), img)
    with pytest.raises(ValueError, match="gaussian_max_ksize"):
        BlurImage(gaussian_max_ksize=5)


def test_motion_kernel_is_a_rotated_line():
    flat = motion_kernel(5, 0)
    assert torch.allclose(flat, torch.eye(5) / 5)
    turned = motion_kernel(5, 90)  # the other diagonal
    assert torch.allclose(turned, torch.eye(5).flip(1) / 5, atol=1e-5)
    # rotating the full diagonal pushes its ends out of the square (cv2's kernel loses them too)
    assert 0.6 < float(motion_kernel(7, 30).sum()) < 1.0


def test_random_rot90_rotates_by_its_label():
    img = torch.arange(6, dtype=torch.float32).view(1, 2, 3)
    seen = set()
    for seed in range(20):
        out, labels = seeded(RandomRot90(), img, seed)
        k = labels["random_rot90_orientation"]
        seen.add(k)
        assert torch.equal(out, torch.rot90(img, k, dims=(-2, -1)))
    assert seen == {0, 1, 2, 3}


def test_pipeline_with_label_ops_returns_image_and_labels():
    ops = [{"BlurImage": {"ratio": 1.0}}, {"ResizeImage": {"size": 16}}, {"RandFlipImage": {"flip_code": 1}},
           {"NormalizeImage": None}, {"RandomRot90": None}]
    tf = build_transforms(ops)
    assert isinstance(tf, LabelCompose)
    torch.manual_seed(0)
    image, labels = tf(photo())
    assert image.shape == (3, 16, 16) and image.dtype == torch.float32
    assert labels["blur_image"] == 1 and labels["random_rot90_orientation"] in range(4)
    assert label_keys(ops) == ["blur_image", "random_rot90_orientation"]
    assert label_keys([{"ResizeImage": {"size": 8}}]) == []
    assert not isinstance(build_transforms([{"ResizeImage": {"size": 8}}]), LabelCompose)


# ------------------------------------------------------------------ errors through the op lists

def test_bad_parameters_name_the_op_and_place():
    for name, params, message in (("Padv2", {"pad_mode": 3}, "pad_mode"),
                                  ("CropImageAtRatio", {"size": 8, "pad": -1}, "pad"),
                                  ("RandAugmentV3", {"magnitude": -1}, "magnitude"),
                                  ("RandomInterpolationAugment", {"prob": "x"}, "prob"),
                                  ("BlurImage", {"ratio": 2}, "ratio")):
        with pytest.raises(ValueError, match=rf"ops\[0\]: {name}.*{message}"):
            make_op(TRANSFORMS, "ops[0]", name, params)
    with pytest.raises(ValueError, match="needs parameter 'prob'"):
        make_op(TRANSFORMS, "ops[0]", "RandomInterpolationAugment", {})
