"""PaddleClas automatic and colour augmentations: AutoAugment, RandAugment, AugMix, TimmAutoAugment,
ColorJitter.

They run on uint8 CHW images, before ``NormalizeImage``, as in PaddleClas configs::

    transform_ops:
      - DecodeImage: {to_rgb: True}
      - RandCropImage: {size: 224}
      - RandFlipImage: {flip_code: 1}
      - TimmAutoAugment: {config_str: rand-m9-mstd0.5-inc1, interpolation: bicubic, img_size: 224}
      - NormalizeImage: {scale: 1.0/255.0}

Every random draw comes from torch's default generator, which the DataLoader seeds per sample,
so results do not depend on the number of workers. 1-channel (gray) images work with all of them.
"""

from __future__ import annotations

import random
from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

from ..config.loader import parse_arithmetic
from .transforms import IMAGENET_MEAN, _floats, _is_number

__all__ = ["AutoAugment", "RandAugment", "AugMix", "TimmAutoAugment", "ColorJitter"]


def number(value: Any, op: str, key: str, low: float | None = None, high: float | None = None) -> float:
    """A number parameter (or an arithmetic string such as "1.0/3.0"), checked against [low, high]."""
    if isinstance(value, str):
        parsed = parse_arithmetic(value)
        value = value if parsed is None else parsed
    if not _is_number(value) or (low is not None and value < low) or (high is not None and value > high):
        bounds = f" in [{low if low is not None else '-inf'}, {high if high is not None else 'inf'}]"
        raise ValueError(f"{op}: {key} must be a number{bounds}, got {value!r}")
    return float(value)


def require_uint8(inpt: torch.Tensor, op: str) -> None:
    """Raise a ValueError saying where the op belongs when ``inpt`` is not a uint8 image."""
    if inpt.dtype != torch.uint8:
        raise ValueError(f"{op} works on uint8 images: put it before NormalizeImage in transform_ops "
                         f"(got a {inpt.dtype} image)")


def _fills(fillcolor: Any, op: str) -> tuple[list[float], float]:
    """PaddleClas ``fillcolor`` (a number or per-channel list) -> (RGB fill, gray fill)."""
    if _is_number(fillcolor):
        return [float(fillcolor)] * 3, float(fillcolor)
    values = _floats(fillcolor, (128.0,), op, "fillcolor")
    if len(values) not in (1, 3):
        raise ValueError(f"{op}: fillcolor must be a number or 3 numbers, got {fillcolor!r}")
    return list(values) * (3 // len(values)), sum(values) / len(values)


class _ColorOrGray(v2.Transform):
    """Runs ``self.color`` on 3-channel images and ``self.gray`` on 1-channel ones (their fills differ)."""

    name = ""
    color: Any
    gray: Any

    def forward(self, inpt: Any) -> Any:
        require_uint8(inpt, self.name)
        return (self.gray if inpt.shape[-3] == 1 else self.color)(inpt)


class AutoAugment(_ColorOrGray):
    """AutoAugment with the ImageNet policy (``torchvision.transforms.v2.AutoAugment``).

    PaddleClas's ``AutoAugment`` is the same ImageNet policy (``ImageNetPolicy``).

    Args:
        fillcolor: value of pixels uncovered by shear/translate/rotate (default 128 gray);
            a 1-channel image gets the mean of the values.

    Example:
        >>> AutoAugment()(tv_tensors.Image(torch.zeros(3, 32, 32, dtype=torch.uint8))).shape
        torch.Size([3, 32, 32])
    """

    name = "AutoAugment"

    def __init__(self, fillcolor=(128, 128, 128)):
        super().__init__()
        color, gray = _fills(fillcolor, self.name)
        self.color = v2.AutoAugment(v2.AutoAugmentPolicy.IMAGENET, fill=color)
        self.gray = v2.AutoAugment(v2.AutoAugmentPolicy.IMAGENET, fill=gray)


class RandAugment(_ColorOrGray):
    """RandAugment: ``num_layers`` random ops at ``magnitude`` (``torchvision.transforms.v2.RandAugment``).

    The magnitude uses PaddleClas's scale, 0..10 (``max_level`` 10): it maps onto torchvision with
    11 magnitude bins, so shear 0.3, translate 150/331 of the side, rotate 30 degrees and the
    colour ops' 0.9 are reached at 10, as in PaddleClas. The op set is torchvision's
    (Identity where PaddleClas has Invert).

    Args:
        num_layers: ops applied per image (default 2).
        magnitude: strength 0..10 (default 5).
        fillcolor: value of uncovered pixels (default 128 gray).

    Example:
        >>> RandAugment(num_layers=2, magnitude=9)(tv_tensors.Image(torch.zeros(1, 28, 28, dtype=torch.uint8))).shape
        torch.Size([1, 28, 28])
    """

    name = "RandAugment"

    def __init__(self, num_layers=2, magnitude=5, fillcolor=(128, 128, 128)):
        super().__init__()
        if isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers < 0:
            raise ValueError(f"RandAugment: num_layers must be an integer >= 0, got {num_layers!r}")
        if isinstance(magnitude, bool) or not isinstance(magnitude, int) or not 0 <= magnitude <= 10:
            raise ValueError(f"RandAugment: magnitude must be an integer in 0..10, got {magnitude!r}")
        color, gray = _fills(fillcolor, self.name)
        self.num_layers, self.magnitude = num_layers, magnitude
        self.color = v2.RandAugment(num_layers, magnitude, num_magnitude_bins=11, fill=color)
        self.gray = v2.RandAugment(num_layers, magnitude, num_magnitude_bins=11, fill=gray)


class AugMix(v2.Transform):
    """AugMix (Hendrycks et al. 2020) with probability ``prob`` (``torchvision.transforms.v2.AugMix``).

    PaddleClas's keys map onto torchvision's: ``aug_severity`` -> severity (1..10),
    ``mixture_width`` -> chains, ``mixture_depth`` -> ops per chain (0 or less: 1..3 at random),
    ``aug_prob_coeff`` -> Dirichlet/Beta alpha. Only geometric and histogram ops are used, as in
    PaddleClas (no colour/contrast/brightness/sharpness).

    Example:
        >>> AugMix(prob=1.0)(tv_tensors.Image(torch.zeros(1, 28, 28, dtype=torch.uint8))).shape
        torch.Size([1, 28, 28])
    """

    def __init__(self, prob=0.5, aug_prob_coeff=0.1, mixture_width=3, mixture_depth=1, aug_severity=1):
        super().__init__()
        self.prob = number(prob, "AugMix", "prob", 0, 1)
        for key, value, low in (("mixture_width", mixture_width, 1), ("aug_severity", aug_severity, 1),
                                ("mixture_depth", mixture_depth, None)):
            if isinstance(value, bool) or not isinstance(value, int) or (low is not None and value < low):
                raise ValueError(f"AugMix: {key} must be an integer{f' >= {low}' if low else ''}, got {value!r}")
        if aug_severity > 10:
            raise ValueError(f"AugMix: aug_severity must be in 1..10, got {aug_severity!r}")
        self.augmix = v2.AugMix(severity=aug_severity, mixture_width=mixture_width,
                                chain_depth=mixture_depth if mixture_depth > 0 else -1,
                                alpha=number(aug_prob_coeff, "AugMix", "aug_prob_coeff", 0), all_ops=False)

    def forward(self, inpt: Any) -> Any:
        require_uint8(inpt, "AugMix")
        return self.augmix(inpt) if float(torch.rand(())) < self.prob else inpt


# timm's policies draw from Python's `random` and numpy's global generators, not from a
# generator we can pass in. To keep the per-sample seeding, each call seeds both from one torch
# draw and puts their previous states back afterwards.
@contextmanager
def _global_rngs_from_torch() -> Iterator[None]:
    seed = int(torch.randint(0, 2**31 - 1, ()))
    saved_random, saved_numpy = random.getstate(), np.random.get_state()
    random.seed(seed)
    np.random.seed(seed)
    try:
        yield
    finally:
        random.setstate(saved_random)
        np.random.set_state(saved_numpy)


_TIMM_HELP = ("expected a timm string such as 'rand-m9-mstd0.5-inc1' (RandAugment), 'augmix-m5-w4-d2' "
              "(AugMix) or 'original-mstd0.5' / 'v0' / 'v0r' / 'originalr' / '3a' (AutoAugment)")


def _timm_policy(config_str: str, hparams: dict[str, Any]) -> Any:
    from timm.data.auto_augment import (augment_and_mix_transform, auto_augment_transform,
                                        rand_augment_transform)

    if config_str.startswith("rand"):
        policy = rand_augment_transform(config_str, hparams)
    elif config_str.startswith("augmix"):
        policy = augment_and_mix_transform(config_str, dict(hparams, translate_pct=0.3))
    else:
        policy = auto_augment_transform(config_str, hparams)
    return _with_zero_bit_posterize(policy)


def _posterize(img: Any, bits_to_keep: int, **_: Any) -> Any:
    """timm's posterize, where keeping 0 bits gives a black image: PaddleClas's copy of timm's
    ``PosterizeIncreasing`` reaches 0 bits at magnitude 10 (e.g. ``rand-m15-mstd0.5``, clipped to
    10), which old Pillow turned black and recent Pillow (13 here) refuses with a ValueError."""
    from PIL import ImageOps

    if bits_to_keep >= 8:
        return img
    if bits_to_keep <= 0:
        return img.point([0] * 256 * len(img.getbands()))
    return ImageOps.posterize(img, bits_to_keep)


def _with_zero_bit_posterize(policy: Any) -> Any:
    """Swap :func:`_posterize` into each timm posterize op of ``policy`` (RandAugment and AugMix
    hold ``ops``, AutoAugment ``policy``, a list of sub-policies)."""
    from timm.data import auto_augment

    ops = list(getattr(policy, "ops", None) or [op for sub in getattr(policy, "policy", []) for op in sub])
    for op in ops:
        if op.aug_fn is auto_augment.posterize:
            op.aug_fn = _posterize
    return policy


class TimmAutoAugment(_ColorOrGray):
    """timm's RandAugment / AugMix / AutoAugment from a config string, as PaddleClas's ``TimmAutoAugment``.

    Runs timm's PIL implementation (``timm.data.auto_augment``), which PaddleClas copied, so
    ``rand-m9-mstd0.5-inc1`` means exactly what it means in timm: 2 layers, magnitude 9,
    magnitude noise std 0.5, increasing-severity ops. timm draws from Python's ``random`` and
    numpy; each call seeds them from torch's per-sample generator and restores them afterwards,
    so results stay reproducible and independent of the number of workers.

    Args:
        config_str: 'rand-...' (RandAugment), 'augmix-...' (AugMix) or an AutoAugment policy
            name ('original', 'originalr', 'v0', 'v0r', '3a') with optional '-mstd..' sections.
        interpolation: 'bicubic' (default), 'bilinear', 'nearest', 'lanczos', ... or 'random'
            (timm picks bilinear or bicubic per op).
        img_size: int or [h, w]; translate ops move by up to 0.45 of its shorter side.
        mean: fill colour for uncovered pixels, as fractions (default ImageNet mean).
        prob: chance of augmenting an image (default 1; PULC configs set 0 to turn it off).
            ``config_str: null`` also turns it off (PaddleClas would fail on it; FasterNet configs set it).

    Example:
        >>> op = TimmAutoAugment(config_str="rand-m9-mstd0.5-inc1", img_size=32)
        >>> op(tv_tensors.Image(torch.zeros(3, 32, 32, dtype=torch.uint8))).dtype
        torch.uint8
    """

    name = "TimmAutoAugment"

    def __init__(self, config_str="rand-m9-mstd0.5-inc1", interpolation="bicubic", img_size=224,
                 mean=IMAGENET_MEAN, prob=1.0):
        super().__init__()
        from timm.data.transforms import str_to_pil_interp

        self.prob = number(prob, self.name, "prob", 0, 1)
        if config_str is None:
            self.prob = 0.0
            config_str = "rand-m9-mstd0.5-inc1"  # built (so other keys are checked), never applied
        if not isinstance(config_str, str) or not config_str:
            raise ValueError(f"TimmAutoAugment: config_str must be a string, {_TIMM_HELP}; got {config_str!r}")
        sizes = list(img_size) if isinstance(img_size, (list, tuple)) else [img_size]
        if not sizes or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in sizes):
            raise ValueError(f"TimmAutoAugment: img_size must be a positive int or [h, w], got {img_size!r}")
        mean = _floats(mean, IMAGENET_MEAN, self.name, "mean")
        if len(mean) not in (1, 3):
            raise ValueError(f"TimmAutoAugment: mean must have 1 or 3 values, got {list(mean)}")
        fill = tuple(min(255, round(255 * m)) for m in mean)
        hparams: dict[str, Any] = {"translate_const": int(min(sizes) * 0.45)}
        if interpolation and interpolation != "random":
            try:
                hparams["interpolation"] = str_to_pil_interp(interpolation)
            except (KeyError, TypeError):
                raise ValueError(f"TimmAutoAugment: interpolation must be 'bicubic', 'bilinear', 'nearest', "
                                 f"'lanczos', 'box', 'hamming' or 'random', got {interpolation!r}") from None
        try:
            self.color = _timm_policy(config_str, dict(hparams, img_mean=fill * (3 // len(fill))))
            self.gray = _timm_policy(config_str, dict(hparams, img_mean=round(sum(fill) / len(fill))))
        except (AssertionError, KeyError, ValueError, IndexError) as err:
            raise ValueError(f"TimmAutoAugment: bad config_str {config_str!r} ({err or 'unknown section'}); "
                             f"{_TIMM_HELP}") from None
        self.config_str = config_str

    def forward(self, inpt: Any) -> Any:
        require_uint8(inpt, self.name)
        # prob 1 draws nothing, so the draws (and images) of configs without prob stay as they were
        if self.prob < 1 and float(torch.rand(())) >= self.prob:
            return inpt
        gray = inpt.shape[-3] == 1
        with _global_rngs_from_torch():
            out = (self.gray if gray else self.color)(F.to_pil_image(inpt.as_subclass(torch.Tensor)))
        out = F.pil_to_tensor(out)
        return tv_tensors.Image(out) if isinstance(inpt, tv_tensors.Image) else out


class ColorJitter(v2.ColorJitter):
    """Random brightness / contrast / saturation / hue, applied with probability ``prob``.

    ``torchvision.transforms.v2.ColorJitter`` plus PaddleClas's ``prob``. A 1-channel image has
    no saturation or hue: those two leave it unchanged (torchvision's rule), brightness and
    contrast still apply.

    Args:
        brightness, contrast, saturation: factor drawn from [max(0, 1 - x), 1 + x]; 0 = off.
        hue: shift drawn from [-hue, hue], hue <= 0.5; 0 = off.
        prob: chance of jittering an image (default 1; PaddleClas's default 2 also means always).
        keys: accepted for PaddleClas configs; ignored.

    Example:
        >>> ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4, prob=0.5)  # doctest: +SKIP
    """

    def __init__(self, brightness=0, contrast=0, saturation=0, hue=0, prob=1.0, keys=None):
        values = {"brightness": brightness, "contrast": contrast, "saturation": saturation, "hue": hue}
        for key, value in values.items():
            if not isinstance(value, (list, tuple)):  # [min, max] ranges go to torchvision's own checks
                values[key] = number(value, "ColorJitter", key, 0, 0.5 if key == "hue" else None)
        super().__init__(**values)
        self.prob = number(prob, "ColorJitter", "prob", 0)

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        if float(torch.rand(())) >= self.prob:
            return {"skip": True}
        return super().make_params(flat_inputs)

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if params.get("skip"):
            return inpt
        require_uint8(inpt, "ColorJitter")
        return super().transform(inpt, params)
