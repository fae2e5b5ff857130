"""PaddleClas's ``PCALighting`` (AlexNet-style PCA colour noise) and ``RandomInterpolationAugment``
(a down-and-up resize with random filters), on torch and torchvision.transforms.v2.

Example:
    >>> PCALighting()(torch.zeros(3, 2, 2, dtype=torch.uint8)).dtype
    torch.float32
"""

from __future__ import annotations

from typing import Any

import torch
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as F

from .augment import number

__all__ = ["PCALighting", "RandomInterpolationAugment", "PCA_EIGVAL", "PCA_EIGVEC"]

# ImageNet RGB eigenvalues and eigenvectors (columns), as PaddleClas (from DiverseBranchBlock)
PCA_EIGVAL = (0.2175, 0.0188, 0.0045)
PCA_EIGVEC = ((-0.5675, 0.7192, 0.4009),
              (-0.5808, -0.0045, -0.8140),
              (-0.5836, -0.6948, 0.4203))


def _matrix(value: Any, rows: int, op: str, key: str) -> torch.Tensor:
    tensor = torch.as_tensor(value, dtype=torch.float32) if isinstance(value, (list, tuple)) else None
    if tensor is None or tensor.shape != ((3,) if rows == 1 else (3, 3)):
        raise ValueError(f"{op}: {key} must be {'3 numbers' if rows == 1 else 'a 3x3 list'}, got {value!r}")
    return tensor


class PCALighting(v2.Transform):
    """Add ``eigvec @ (alpha * eigval)`` to each channel, ``alpha ~ N(0, alphastd)`` per image.

    As in PaddleClas, the shift is added in the image's own units and not clipped: on a uint8
    image (PaddleClas puts the op before ``NormalizeImage``) the result is float32 in 0..255 units,
    shifted by a few hundredths of a grey level. ``NormalizeImage`` takes float images too.

    Args:
        alphastd: std of ``alpha`` (default 0.1; 0 returns the image unchanged).
        eigval, eigvec: PCA of ImageNet RGB (default PaddleClas's ``PCA_EIGVAL``, ``PCA_EIGVEC``).

    Example:
        >>> PCALighting(alphastd=0)(torch.zeros(3, 1, 1, dtype=torch.uint8)).dtype
        torch.uint8
    """

    FLOAT_OUTPUT = True  # makes float images: NormalizeImage after it runs per image

    def __init__(self, alphastd=0.1, eigval=PCA_EIGVAL, eigvec=PCA_EIGVEC):
        super().__init__()
        self.alphastd = number(alphastd, "PCALighting", "alphastd", 0)
        self.eigval = _matrix(eigval, 1, "PCALighting", "eigval")
        self.eigvec = _matrix(eigvec, 3, "PCALighting", "eigvec")

    def shift(self, alpha: torch.Tensor) -> torch.Tensor:
        """The per-channel shift [3] for draws ``alpha`` [3]."""
        return (self.eigvec * (alpha * self.eigval).view(1, 3)).sum(1)

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        return {"alpha": torch.randn(3) * self.alphastd}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if self.alphastd == 0:
            return inpt
        image = inpt.as_subclass(torch.Tensor)
        if image.shape[-3] != 3:
            raise ValueError(f"PCALighting: needs a 3-channel RGB image, got {image.shape[-3]} channel(s)")
        out = image.to(torch.float32) + self.shift(params["alpha"]).view(3, 1, 1).to(image.device)
        return tv_tensors.Image(out) if isinstance(inpt, tv_tensors.Image) else out


# cv2's five filters, as tensor resizes: (mode, antialias); area ~ antialiased bilinear, lanczos ~ antialiased bicubic
_RESIZE_FILTERS = ((InterpolationMode.NEAREST, False), (InterpolationMode.BILINEAR, False),
                   (InterpolationMode.BILINEAR, True), (InterpolationMode.BICUBIC, False),
                   (InterpolationMode.BICUBIC, True))


class RandomInterpolationAugment(v2.Transform):
    """With probability ``prob``: resize to a square of side ``r * height`` (``r ~ U(0.2, 1)``) and
    back to the input size, each resize with a filter drawn from five (cv2's nearest, linear,
    area, cubic, lanczos; here nearest, bilinear, antialiased bilinear, bicubic, antialiased
    bicubic), a low-resolution / resampling-artefact augmentation.

    Example:
        >>> RandomInterpolationAugment(prob=1.0)(torch.zeros(3, 10, 14, dtype=torch.uint8)).shape
        torch.Size([3, 10, 14])
    """

    def __init__(self, prob):
        super().__init__()
        self.prob = number(prob, "RandomInterpolationAugment", "prob", 0)

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        if float(torch.rand(())) >= self.prob:
            return {"skip": True}
        picks = torch.randint(len(_RESIZE_FILTERS), (2,)).tolist()
        return {"side_ratio": float(torch.empty(()).uniform_(0.2, 1.0)),
                "down": _RESIZE_FILTERS[picks[0]], "up": _RESIZE_FILTERS[picks[1]]}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if params.get("skip"):
            return inpt
        height, width = inpt.shape[-2:]
        side = max(1, int(params["side_ratio"] * height))
        (down, down_aa), (up, up_aa) = params["down"], params["up"]
        small = self._call_kernel(F.resize, inpt, [side, side], interpolation=down, antialias=down_aa)
        return self._call_kernel(F.resize, small, [height, width], interpolation=up, antialias=up_aa)
