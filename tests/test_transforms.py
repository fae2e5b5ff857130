"""Tests for torchclas.data.transforms: PaddleClas ops on torchvision.transforms.v2."""

import io
import logging

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps
from torchvision import tv_tensors
from torchvision.transforms import v2

from torchclas.data.pipeline import build_transforms, check_ops, describe_preprocess
from torchclas.data.registry import BATCH_OPS, NOT_YET_IMPLEMENTED_OPS, TRANSFORMS
from torchclas.data.transforms import (
    CropImage, DecodeImage, ImageDecodeError, NormalizeImage, RandCropImage, RandFlipImage, ResizeImage, ToCHWImage,
    parse_scale,
)

# torchvision 0.29 deprecates torchvision.io image codecs in favour of TorchCodec; still supported.
pytestmark = pytest.mark.filterwarnings(
    "ignore:The image decoding and encoding capabilities:DeprecationWarning")

EVAL_OPS = [
    {"DecodeImage": {"to_rgb": True, "channel_first": False}},
    {"ResizeImage": {"resize_short": 256}},
    {"CropImage": {"size": 224}},
    {"NormalizeImage": {"scale": "1.0/255.0", "mean": [0.485, 0.456, 0.406],
                        "std": [0.229, 0.224, 0.225], "order": ""}},
    {"ToCHWImage": None},
]


def encode(img: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


@pytest.fixture
def rgb_array() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (20, 40, 3), dtype=np.uint8)


def chw(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(array)).permute(2, 0, 1)


# ---------------------------------------------------------------- DecodeImage

def test_decode_png_is_exact_uint8_chw_image(rgb_array):
    out = DecodeImage()(encode(Image.fromarray(rgb_array), "PNG"))
    assert isinstance(out, tv_tensors.Image)
    assert out.dtype == torch.uint8 and out.shape == (3, 20, 40)
    assert torch.equal(out.as_subclass(torch.Tensor), chw(rgb_array))


def test_decode_accepts_bytearray_memoryview_and_tensor(rgb_array):
    data = encode(Image.fromarray(rgb_array), "PNG")
    for inpt in (bytearray(data), memoryview(data), torch.frombuffer(bytearray(data), dtype=torch.uint8),
                 np.frombuffer(data, dtype=np.uint8)):
        assert torch.equal(DecodeImage()(inpt), chw(rgb_array))


def test_decode_jpeg_close_to_source(rgb_array):
    smooth = np.repeat(np.linspace(0, 255, 40, dtype=np.uint8)[None, :, None], 20, 0).repeat(3, 2)
    out = DecodeImage()(encode(Image.fromarray(smooth), "JPEG", quality=95))
    assert out.shape == (3, 20, 40)
    assert (out.float() - chw(smooth).float()).abs().mean() < 3


def test_gray_png_becomes_three_equal_channels(rgb_array):
    gray = rgb_array[:, :, 0]
    out = DecodeImage()(encode(Image.fromarray(gray), "PNG"))
    assert out.shape == (3, 20, 40)
    for channel in out:
        assert torch.equal(channel, torch.from_numpy(gray))


def test_channel_num_1_gives_gray(rgb_array):
    gray = rgb_array[:, :, 0]
    out = DecodeImage(channel_num=1)(encode(Image.fromarray(gray), "PNG"))
    assert out.shape == (1, 20, 40) and torch.equal(out[0], torch.from_numpy(gray))
    from_rgb = DecodeImage(channel_num=1)(encode(Image.fromarray(rgb_array), "PNG"))
    assert from_rgb.shape == (1, 20, 40) and from_rgb.dtype == torch.uint8


def test_rgba_drops_alpha(rgb_array):
    alpha = np.full((20, 40, 1), 7, dtype=np.uint8)
    out = DecodeImage()(encode(Image.fromarray(np.concatenate([rgb_array, alpha], 2), "RGBA"), "PNG"))
    assert torch.equal(out, chw(rgb_array))


def test_palette_png_expands_to_rgb(rgb_array):
    palette = Image.fromarray(rgb_array).convert("P")
    out = DecodeImage()(encode(palette, "PNG"))
    assert torch.equal(out, chw(np.asarray(palette.convert("RGB"))))


def test_16bit_png_scaled_to_uint8():
    values = (np.arange(20 * 40, dtype=np.uint16).reshape(20, 40) * 80).astype(np.uint16)
    out = DecodeImage()(encode(Image.fromarray(values), "PNG"))
    assert out.dtype == torch.uint8 and out.shape == (3, 20, 40)
    assert torch.equal(out[0], torch.from_numpy((values >> 8).astype(np.uint8)))


def test_cmyk_jpeg_becomes_rgb(rgb_array):
    data = encode(Image.fromarray(rgb_array).convert("CMYK"), "JPEG", quality=95)
    out = DecodeImage()(data)
    reference = chw(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))
    assert out.shape == (3, 20, 40)
    assert (out.float() - reference.float()).abs().mean() < 4


def test_exif_orientation_is_applied():
    array = np.zeros((20, 40, 3), dtype=np.uint8)
    array[:, 20:] = 255  # right half white
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise for display
    data = encode(Image.fromarray(array), "JPEG", exif=exif, quality=95)
    out = DecodeImage()(data)
    reference = chw(np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")))
    assert out.shape == (3, 40, 20)
    assert (out.float() - reference.float()).abs().mean() < 3
    assert out[:, 30:].float().mean() > 200 and out[:, :10].float().mean() < 50  # white half at the bottom


def test_bmp_and_16bit_tiff_fall_back_to_pil(rgb_array):
    assert torch.equal(DecodeImage()(encode(Image.fromarray(rgb_array), "BMP")), chw(rgb_array))
    values = (np.arange(20 * 40, dtype=np.uint16).reshape(20, 40) * 80).astype(np.uint16)
    out = DecodeImage()(encode(Image.fromarray(values), "TIFF"))
    assert torch.equal(out[1], torch.from_numpy((values >> 8).astype(np.uint8)))


def test_already_decoded_inputs_match_bytes(rgb_array):
    expected = chw(rgb_array)
    assert torch.equal(DecodeImage()(Image.fromarray(rgb_array)), expected)
    assert torch.equal(DecodeImage()(rgb_array), expected)
    assert torch.equal(DecodeImage()(expected.clone()), expected)
    gray = DecodeImage()(rgb_array[:, :, 0])
    assert gray.shape == (3, 20, 40) and torch.equal(gray[2], torch.from_numpy(rgb_array[:, :, 0]))


@pytest.mark.parametrize("data, reason", [
    (b"", "empty"),
    (b"this is not an image at all", "not a recognised image format"),
])
def test_bad_bytes_raise_value_error_with_reason(data, reason):
    with pytest.raises(ValueError, match=reason):
        DecodeImage()(data)


def test_truncated_images_raise(rgb_array):
    for fmt in ("JPEG", "PNG"):
        data = encode(Image.fromarray(rgb_array), fmt)
        with pytest.raises(ImageDecodeError):
            DecodeImage()(data[: len(data) // 2])
    with pytest.raises(ImageDecodeError):
        DecodeImage()(b"\x89PNG\r\n\x1a\n" + b"junk after a PNG signature")


def test_decode_rejects_bad_channel_num():
    with pytest.raises(ValueError, match="channel_num must be 1 or 3"):
        DecodeImage(channel_num=2)


# ---------------------------------------------------------------- geometry

def image(height: int, width: int, channels: int = 3) -> tv_tensors.Image:
    return tv_tensors.Image(torch.arange(channels * height * width, dtype=torch.int64)
                            .reshape(channels, height, width).remainder(256).to(torch.uint8))


def test_resize_short_side():
    assert ResizeImage(resize_short=10)(image(20, 40)).shape == (3, 10, 20)
    assert ResizeImage(resize_short=10)(image(40, 20)).shape == (3, 20, 10)


def test_resize_short_rounds_like_paddleclas():
    # 5 * 4 / 3 = 6.67: PaddleClas rounds to 7 (torchvision's Resize(int) would truncate to 6)
    assert ResizeImage(resize_short=4)(image(3, 5)).shape == (3, 4, 7)


def test_resize_size_is_width_first():
    assert ResizeImage(size=[30, 10])(image(20, 40)).shape == (3, 10, 30)
    assert ResizeImage(size=12)(image(20, 40)).shape == (3, 12, 12)


def test_resize_keeps_uint8_and_accepts_interpolation_names():
    for name in ("bilinear", "bicubic", "nearest", "area", "lanczos", "box", "hamming", None, 2):
        out = ResizeImage(resize_short=8, interpolation=name)(image(20, 40))
        assert out.dtype == torch.uint8 and out.shape == (3, 8, 16)
    with pytest.raises(ValueError, match="unknown interpolation 'sinc'"):
        ResizeImage(size=8, interpolation="sinc")


@pytest.mark.parametrize("kwargs", [{}, {"size": 8, "resize_short": 8}])
def test_resize_needs_exactly_one_of_size_and_resize_short(kwargs):
    with pytest.raises(ValueError, match="exactly one of size or resize_short"):
        ResizeImage(**kwargs)


def test_crop_image_is_centered_and_width_first():
    img = image(6, 8)
    out = CropImage(size=[4, 2])(img)
    assert out.shape == (3, 2, 4)
    assert torch.equal(out, img[:, 2:4, 2:6])
    assert torch.equal(CropImage(size=4)(img), img[:, 1:5, 2:6])


def test_rand_crop_image_output_size_and_validation():
    torch.manual_seed(0)
    for _ in range(10):
        out = RandCropImage(size=[12, 6], scale=[0.5, 1.0])(image(20, 40))
        assert out.shape == (3, 6, 12) and out.dtype == torch.uint8
    with pytest.raises(ValueError, match="scale must be"):
        RandCropImage(size=8, scale=[1.0, 0.5])


@pytest.mark.parametrize("flip_code, flip_dims", [(1, [-1]), (0, [-2]), (-1, [-2, -1])])
def test_rand_flip_follows_torch_rng(flip_code, flip_dims):
    img = image(4, 6)
    torch.manual_seed(123)
    expected = [bool(torch.rand(()) < 0.5) for _ in range(50)]
    torch.manual_seed(123)
    op = RandFlipImage(flip_code=flip_code)
    flipped = []
    for _ in range(50):
        out = op(img)
        if torch.equal(out, img.flip(flip_dims)):
            flipped.append(True)
        else:
            assert torch.equal(out, img)
            flipped.append(False)
    assert flipped == expected and any(flipped) and not all(flipped)


def test_rand_flip_rejects_bad_code():
    with pytest.raises(ValueError, match="flip_code must be 1, 0 or -1"):
        RandFlipImage(flip_code=2)


# ---------------------------------------------------------------- NormalizeImage

def test_normalize_numbers():
    img = image(5, 7)
    mean, std = [0.5, 0.4, 0.3], [0.2, 0.25, 0.3]
    out = NormalizeImage(mean=mean, std=std)(img)
    expected = (img.float() / 255 - torch.tensor(mean).view(3, 1, 1)) / torch.tensor(std).view(3, 1, 1)
    assert out.dtype == torch.float32 and out.shape == (3, 5, 7)
    torch.testing.assert_close(out.as_subclass(torch.Tensor), expected)


def test_normalize_defaults_are_imagenet_and_1_over_255():
    img = image(2, 3)
    out = NormalizeImage()(img)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
    torch.testing.assert_close(out.as_subclass(torch.Tensor), (img.float() / 255 - mean) / std)


def test_normalize_string_scale_fp16_and_fourth_channel():
    img = image(2, 3)
    out = NormalizeImage(scale="1.0/255.0", output_fp16=True, channel_num=4)(img)
    assert out.dtype == torch.float16 and out.shape == (4, 2, 3)
    assert torch.all(out[3] == 0)
    torch.testing.assert_close(out[:3].float(), NormalizeImage()(img).float(), atol=1e-2, rtol=1e-2)


def test_normalize_channel_mismatch_is_clear():
    with pytest.raises(ValueError, match=r"1 channel\(s\) but mean/std have 3 values"):
        NormalizeImage()(image(4, 4, channels=1))
    out = NormalizeImage(mean=[0.5], std=[0.5])(image(4, 4, channels=1))
    assert out.shape == (1, 4, 4)


def test_parse_scale_is_arithmetic_only():
    assert parse_scale("1.0/255.0") == pytest.approx(1 / 255)
    assert parse_scale("2 * 3 - -1") == 7.0
    assert parse_scale(None) == pytest.approx(1 / 255)
    assert parse_scale(0.5) == 0.5
    assert parse_scale("2 ** 3") == 8.0  # the config parser's arithmetic, exponent included
    for bad in ("__import__('os').system('true')", "1/0", "scale"):
        with pytest.raises(ValueError, match="scale"):
            parse_scale(bad)


# ---------------------------------------------------------------- pipelines and config checks

def test_paddleclas_eval_pipeline_gives_float32_3x224x224(rgb_array):
    big = np.asarray(Image.fromarray(rgb_array).resize((500, 375)))
    out = build_transforms(EVAL_OPS)(encode(Image.fromarray(big), "JPEG"))
    assert isinstance(out, torch.Tensor)
    assert out.dtype == torch.float32 and out.shape == (3, 224, 224)


def test_train_pipeline_runs_and_skips_unimplemented(caplog, rgb_array):
    ops = [{"DecodeImage": None}, {"RandCropImage": {"size": 16}}, {"RandFlipImage": {"flip_code": 1}},
           {"RandomApply": None}, {"NormalizeImage": None}, {"ToCHWImage": None}]
    with caplog.at_level(logging.WARNING, logger="torchclas.data.transforms"):
        tf = build_transforms(ops, where="DataLoader.Train.dataset.transform_ops")
    assert "RandomApply" in caplog.text and "DataLoader.Train" in caplog.text
    assert tf(encode(Image.fromarray(rgb_array), "PNG")).shape == (3, 16, 16)


def test_empty_op_list_is_identity():
    for ops in (None, []):
        tf = build_transforms(ops)
        assert tf("unchanged") == "unchanged"


def test_check_ops_accepts_paddleclas_ops_and_returns_unimplemented():
    assert check_ops(EVAL_OPS, "DataLoader.Eval.dataset.transform_ops") == []
    ops = [{"DecodeImage": None}, {"RandomApply": {"p": 0.5}}, {"Pad": {"padding": 4}}, {"RandomApply": None}]
    assert check_ops(ops, "x") == ["RandomApply"]
    assert "RandomApply" in NOT_YET_IMPLEMENTED_OPS


def test_check_ops_unknown_op_names_closest():
    ops = [{"DecodeImage": None}, {"ResizeImage": {"size": 8}}, {"RandFlipImg": None}]
    with pytest.raises(ValueError) as info:
        check_ops(ops, "DataLoader.Train.dataset.transform_ops")
    message = str(info.value)
    assert message.startswith("DataLoader.Train.dataset.transform_ops[2]: unknown op 'RandFlipImg' "
                              "(did you mean 'RandFlipImage'?); known ops: ")
    known = message.split("; known ops: ")[1].split(", ")
    assert "RandFlipImage" in known and "ResizeImage" in known and "MixupOperator" not in known


def test_check_ops_bad_parameter_name_lists_accepted():
    with pytest.raises(ValueError) as info:
        check_ops([{"ResizeImage": {"resize_shrt": 256}}], "ops")
    message = str(info.value)
    assert message.startswith("ops[0]: ResizeImage has no parameter 'resize_shrt'")
    assert "did you mean 'resize_short'" in message and "accepted: size, resize_short" in message


@pytest.mark.parametrize("op, match", [
    ({"ResizeImage": {"size": -3}}, r"ops\[0\]: ResizeImage: size .* got -3"),
    ({"CropImage": None}, r"ops\[0\]: CropImage needs parameter 'size'"),
    ({"NormalizeImage": {"scale": "exit()"}}, r"ops\[0\]: NormalizeImage: scale 'exit\(\)'"),
    ({"RandFlipImage": {"flip_code": 5}}, r"ops\[0\]: RandFlipImage: flip_code"),
    ({"ResizeImage": [256]}, r"ops\[0\]: parameters of 'ResizeImage' must be a mapping"),
    ({"ResizeImage": {"size": 2}, "CropImage": {"size": 2}},
     r"ops\[0\]: each op must be a single-key mapping"),
])
def test_check_ops_bad_values(op, match):
    with pytest.raises(ValueError, match=match):
        check_ops([op], "ops")


def test_check_ops_needs_a_list():
    with pytest.raises(ValueError, match="ops: expected a list of ops"):
        check_ops({"DecodeImage": None}, "ops")


def test_op_tables_are_explicit_and_complete_on_their_own():
    """The registries list every op class by name; importing the registry alone fills them (no
    op module has to be imported for its side effect)."""
    import subprocess
    import sys

    from torchclas.data import (augment, batch_ops, fmix, geometry, label_ops, masking, mix_hybrid, photometric,
                                randaugment, transforms, vision_ops)

    op_modules = (transforms, geometry, vision_ops, augment, randaugment, photometric, label_ops, masking)
    for name, cls in TRANSFORMS.items():
        assert cls.__name__ == name and cls.__module__ in {m.__name__ for m in op_modules}
    for name, cls in BATCH_OPS.items():
        assert cls.__name__ == name and cls.__module__ in {m.__name__ for m in (batch_ops, fmix, mix_hybrid)}
    assert not set(TRANSFORMS) & set(BATCH_OPS) and NOT_YET_IMPLEMENTED_OPS == TRANSFORMS.not_yet | BATCH_OPS.not_yet
    code = ("from torchclas.data.registry import BATCH_OPS, TRANSFORMS; "
            "print(len(TRANSFORMS), len(BATCH_OPS))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == [str(len(TRANSFORMS)), str(len(BATCH_OPS))]


def test_a_user_op_is_added_to_the_registry_by_name():
    class TestInvertImage(v2.Transform):
        def __init__(self, level=255):
            super().__init__()
            self.level = level

        def transform(self, inpt, params):
            return self.level - inpt

    TRANSFORMS["TestInvertImage"] = TestInvertImage
    try:
        assert check_ops([{"TestInvertImage": {"level": 255}}], "ops") == []
        out = build_transforms([{"TestInvertImage": None}])(image(2, 2))
        assert torch.equal(out, 255 - image(2, 2))
        with pytest.raises(ValueError, match="no parameter 'levle'"):
            check_ops([{"TestInvertImage": {"levle": 1}}], "ops")
    finally:
        del TRANSFORMS["TestInvertImage"]


def test_to_chw_image_is_identity():
    img = image(3, 4)
    assert ToCHWImage()(img) is img


def test_describe_preprocess_eval_ops():
    info = describe_preprocess(EVAL_OPS)
    assert info == {"input_size": [3, 224, 224], "resize_short": 256, "resize": None, "crop": [224, 224],
                    "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
                    "scale": pytest.approx(1 / 255), "channels": 3}


def test_describe_preprocess_resize_only_and_gray():
    ops = [{"DecodeImage": {"channel_num": 1}}, {"ResizeImage": {"size": [32, 28]}},
           {"NormalizeImage": {"mean": [0.5], "std": [0.5]}}]
    info = describe_preprocess(ops)
    assert info["input_size"] == [1, 28, 32] and info["resize"] == [28, 32] and info["crop"] is None
    assert describe_preprocess([{"DecodeImage": None}])["input_size"] is None
