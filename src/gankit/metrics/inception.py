"""Inception-v3 features for FID and the Inception Score, laid out like the standard
FID weights file: pytorch-fid's `pt_inception-2015-12-05-6726825d.pth`, TensorFlow's
`inception-2015-12-05` graph of the original FID and IS code in torchvision's
`Inception3` names (torch-fidelity uses the same conversion). gankit downloads
nothing: users pass the file they have (``eval.inception_weights=PATH``).

Unlike torchvision's ImageNet model: a 1008-way `fc`, no auxiliary classifier; the 3×3
average pools of the A, C and E blocks leave the padding out of the mean (as TF); the
last E block (Mixed_7c) feeds its pool branch with a max pool.

The file's 566 entries: 94 conv + batch-norm units (`conv.weight`; `bn.weight`, `bias`,
`running_mean`, `running_var`, `num_batches_tracked`) and `fc.weight`, `fc.bias`.
pytorch-fid loads it strictly; its issue #34 (torch < 0.4.1 rejects the
`bn.num_batches_tracked` keys) shows the counters are there. Files without them
(torch-fidelity's converter writes the other 472) load too; inference ignores them.

Input: images in [-1, 1], (N, 1 or 3, H, W), gray repeated to RGB, resized to 299×299
bilinearly with align_corners=False as in pytorch-fid (torch-fidelity mimics TF1's
resize of uint8 images, so numbers differ slightly). Output: 2048-d pool3 features and
Inception Score logits, all 1008 `fc` outputs without the bias (pool3 · Wᵀ), as in the
original IS code (pool3 times the weight input of `softmax/logits/MatMul`) and in
torch-fidelity's default IS feature `logits_unbiased`; neither drops a class, nor does this.

Checked offline (tests/test_inception.py): keys and shapes against a table of the
published architecture; 23,850,960 parameters (torchvision's documented 27,161,264,
less the auxiliary classifier, with a 1008-way fc); round trips; loader errors; output
shapes. NOT checked: numbers against pytorch-fid on the real weights (neither is here).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.errors import DataError
from gankit.files.torchfile import load_plain

WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
INPUT_SIZE, FEATURE_DIM, NUM_CLASSES = 299, 2048, 1008
_RANGE_SLACK = 1e-3  # float noise allowed outside [-1, 1]


Kernel = int | tuple[int, int]
Unit = tuple  # (name, out channels, kernel) or (name, out channels, kernel, stride)


class ConvBN(nn.Module):
    """One unit of the graph: bias-free convolution, batch norm (TF's eps 1e-3), ReLU.
    Stride-1 units keep the size ("SAME") unless `pad=False`; stride-2 ones are "VALID"."""

    def __init__(self, in_ch: int, out_ch: int, kernel: Kernel, stride: int = 1, pad: bool = True) -> None:
        super().__init__()
        kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
        padding = (kh // 2, kw // 2) if pad and stride == 1 else (0, 0)
        self.conv = nn.Conv2d(in_ch, out_ch, (kh, kw), stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(out_ch, eps=0.001)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.bn(self.conv(x)))


class Branch(NamedTuple):
    """One path of a mixed block: an optional 3×3 pool of the block input, a chain of
    units, then optionally a fork of parallel units on the chain's output."""

    units: tuple[Unit, ...]
    pool: str = ""  # "avg" (TF: padding left out of the mean), "max" (stride 1), "max2" (stride 2)
    fork: tuple[Unit, ...] = ()


def _chain(x: Tensor, *units: nn.Module) -> Tensor:
    """`x` through `units` in turn."""
    for unit in units:
        x = unit(x)
    return x


def _pool(kind: str, x: Tensor) -> Tensor:
    """The 3×3 pool a branch starts with (see `Branch.pool`)."""
    if kind == "avg":
        return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)
    return F.max_pool2d(x, 3, stride=1, padding=1) if kind == "max" else F.max_pool2d(x, 3, stride=2)


class MixedBlock(nn.Module):
    """Parallel branches over one input, concatenated along channels; each unit is an
    attribute named as in the weights file (`branch5x5_1`, ...)."""

    def __init__(self, in_ch: int, *branches: Branch) -> None:
        super().__init__()
        self.branches = branches
        for branch in branches:
            channels = in_ch
            for name, out_ch, kernel, *stride in branch.units:
                self.add_module(name, ConvBN(channels, out_ch, kernel, *stride))
                channels = out_ch
            for name, out_ch, kernel in branch.fork:
                self.add_module(name, ConvBN(channels, out_ch, kernel))

    def forward(self, x: Tensor) -> Tensor:
        outputs = []
        for branch in self.branches:
            y = _chain(_pool(branch.pool, x) if branch.pool else x, *(getattr(self, u[0]) for u in branch.units))
            outputs.extend([getattr(self, unit[0])(y) for unit in branch.fork] or [y])
        return torch.cat(outputs, dim=1)


def mixed_a(in_ch: int, pool_ch: int) -> MixedBlock:
    """35×35 block (Mixed_5b–5d): 1×1; 1×1→5×5; 1×1→3×3→3×3; avg pool→1×1."""
    return MixedBlock(in_ch, Branch((("branch1x1", 64, 1),)),
                      Branch((("branch5x5_1", 48, 1), ("branch5x5_2", 64, 5))),
                      Branch((("branch3x3dbl_1", 64, 1), ("branch3x3dbl_2", 96, 3), ("branch3x3dbl_3", 96, 3))),
                      Branch((("branch_pool", pool_ch, 1),), pool="avg"))


def reduction_b(in_ch: int) -> MixedBlock:
    """35→17 (Mixed_6a): strided 3×3; 1×1→3×3→strided 3×3; strided max pool."""
    return MixedBlock(in_ch, Branch((("branch3x3", 384, 3, 2),)),
                      Branch((("branch3x3dbl_1", 64, 1), ("branch3x3dbl_2", 96, 3), ("branch3x3dbl_3", 96, 3, 2))),
                      Branch((), pool="max2"))


def mixed_c(in_ch: int, mid: int) -> MixedBlock:
    """17×17 block (Mixed_6b–6e): 7×7 convolutions factorised into 1×7 and 7×1 of width `mid`."""
    return MixedBlock(in_ch, Branch((("branch1x1", 192, 1),)),
                      Branch((("branch7x7_1", mid, 1), ("branch7x7_2", mid, (1, 7)), ("branch7x7_3", 192, (7, 1)))),
                      Branch((("branch7x7dbl_1", mid, 1), ("branch7x7dbl_2", mid, (7, 1)),
                              ("branch7x7dbl_3", mid, (1, 7)), ("branch7x7dbl_4", mid, (7, 1)),
                              ("branch7x7dbl_5", 192, (1, 7)))),
                      Branch((("branch_pool", 192, 1),), pool="avg"))


def reduction_d(in_ch: int) -> MixedBlock:
    """17→8 (Mixed_7a): 1×1→strided 3×3; 1×1→1×7→7×1→strided 3×3; strided max pool."""
    return MixedBlock(in_ch, Branch((("branch3x3_1", 192, 1), ("branch3x3_2", 320, 3, 2))),
                      Branch((("branch7x7x3_1", 192, 1), ("branch7x7x3_2", 192, (1, 7)),
                              ("branch7x7x3_3", 192, (7, 1)), ("branch7x7x3_4", 192, 3, 2))),
                      Branch((), pool="max2"))


def mixed_e(in_ch: int, pool: str) -> MixedBlock:
    """8×8 block (Mixed_7b, 7c): 3×3 paths fork into parallel 1×3 and 3×1; the FID graph
    pools the last branch with `pool="avg"` in Mixed_7b and `"max"` in Mixed_7c."""
    return MixedBlock(in_ch, Branch((("branch1x1", 320, 1),)),
                      Branch((("branch3x3_1", 384, 1),),
                             fork=(("branch3x3_2a", 384, (1, 3)), ("branch3x3_2b", 384, (3, 1)))),
                      Branch((("branch3x3dbl_1", 448, 1), ("branch3x3dbl_2", 384, 3)),
                             fork=(("branch3x3dbl_3a", 384, (1, 3)), ("branch3x3dbl_3b", 384, (3, 1)))),
                      Branch((("branch_pool", 192, 1),), pool=pool))


def prepare_images(images: Tensor) -> Tensor:
    """(N, 1 or 3, H, W) float images in [-1, 1] → (N, 3, 299, 299) float32 network input."""
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise DataError(f"Inception takes images of shape (N, 1 or 3, H, W); got {tuple(images.shape)}")
    if not images.is_floating_point():
        raise DataError(f"Inception takes float images in [-1, 1]; got {images.dtype} (scale x/127.5 - 1)")
    x = images.float()
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    return F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)


class FIDInceptionV3(nn.Module):
    """The FID Inception-v3 graph; attribute names are the weights file's keys."""

    def __init__(self) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = ConvBN(3, 32, 3, stride=2, pad=False)
        self.Conv2d_2a_3x3 = ConvBN(32, 32, 3, pad=False)
        self.Conv2d_2b_3x3 = ConvBN(32, 64, 3)
        self.Conv2d_3b_1x1 = ConvBN(64, 80, 1)
        self.Conv2d_4a_3x3 = ConvBN(80, 192, 3, pad=False)
        self.Mixed_5b, self.Mixed_5c, self.Mixed_5d = mixed_a(192, 32), mixed_a(256, 64), mixed_a(288, 64)
        self.Mixed_6a = reduction_b(288)
        self.Mixed_6b, self.Mixed_6c = mixed_c(768, 128), mixed_c(768, 160)
        self.Mixed_6d, self.Mixed_6e = mixed_c(768, 160), mixed_c(768, 192)
        self.Mixed_7a = reduction_d(768)
        self.Mixed_7b, self.Mixed_7c = mixed_e(1280, pool="avg"), mixed_e(2048, pool="max")
        self.fc = nn.Linear(FEATURE_DIM, NUM_CLASSES)

    def pool3(self, images: Tensor) -> Tensor:
        """(N, 2048) global-average features of images in [-1, 1] (any size, 1 or 3 channels)."""
        x = _chain(prepare_images(images), self.Conv2d_1a_3x3, self.Conv2d_2a_3x3, self.Conv2d_2b_3x3)
        x = _chain(F.max_pool2d(x, 3, stride=2), self.Conv2d_3b_1x1, self.Conv2d_4a_3x3)
        x = _chain(F.max_pool2d(x, 3, stride=2), self.Mixed_5b, self.Mixed_5c, self.Mixed_5d,
                   self.Mixed_6a, self.Mixed_6b, self.Mixed_6c, self.Mixed_6d, self.Mixed_6e,
                   self.Mixed_7a, self.Mixed_7b, self.Mixed_7c)
        return x.mean(dim=(2, 3))

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """(pool3 features (N, 2048), Inception Score logits (N, 1008): pool3 · Wᵀ, no bias)."""
        features = self.pool3(images)
        return features, features @ self.fc.weight.T


def _complete_state_dict(state: Mapping, expected: Mapping[str, Tensor], source: Path) -> dict:
    """`state` checked key by key and shape by shape against `expected`; absent
    `num_batches_tracked` counters are filled in. `DataError` names what does not fit."""
    optional = {key for key in expected if key.endswith(".num_batches_tracked")}
    missing = [key for key in expected if key not in state and key not in optional]
    unexpected = [str(key) for key in state if key not in expected]
    mis_shaped = [
        f"{key} {tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__}"
        f" (expected {tuple(expected[key].shape)})"
        for key, value in state.items()
        if key in expected and not (isinstance(value, Tensor) and value.shape == expected[key].shape)
    ]
    problems = [f"{len(keys)} {label} (first: {', '.join(keys[:3])})"
                for label, keys in (("missing keys", missing), ("unexpected keys", unexpected),
                                    ("mis-shaped tensors", mis_shaped)) if keys]
    if problems:
        raise DataError(
            f"'{source}' does not fit the FID Inception-v3: {'; '.join(problems)}. Expected "
            f"{WEIGHTS_FILE} (pytorch-fid's FID weights: torchvision Inception3 names, 1008-way fc, "
            "no AuxLogits); torchvision's own ImageNet Inception-v3 weights are a different network"
        )
    return {**{key: expected[key] for key in optional}, **state}


def load_inception(path: str | Path, device: str | torch.device = "cpu") -> FIDInceptionV3:
    """The FID Inception-v3 with the weights in `path`, in eval mode, gradients off; `DataError`
    if the file is missing, unreadable, not a dict, or its keys or shapes differ from WEIGHTS_FILE."""
    path = Path(path)
    hint = f"pass the path of {WEIGHTS_FILE} (pytorch-fid's FID weights) as eval.inception_weights"
    if not path.exists():
        raise DataError(f"Inception weights file '{path}' not found; {hint}")
    state = load_plain(path, "weights file", DataError, hint)
    if not isinstance(state, Mapping):
        raise DataError(f"'{path}' holds a {type(state).__name__}, not a dict of tensors; {hint}")
    model = FIDInceptionV3()
    model.load_state_dict(_complete_state_dict(state, model.state_dict(), path))
    return model.to(device).eval().requires_grad_(False)


def inception_features(model: FIDInceptionV3, images: Tensor, batch_size: int = 50) -> tuple[Tensor, Tensor]:
    """(pool3 features (N, 2048), IS probabilities (N, 1008): softmax of the bias-free
    logits), float32 on the CPU. Batches run on the model's device, in eval mode."""
    if batch_size < 1:
        raise DataError(f"batch_size={batch_size}: give at least 1")
    if images.numel():
        low, high = (float(v) for v in torch.aminmax(images))
        if low < -1 - _RANGE_SLACK or high > 1 + _RANGE_SLACK:
            raise DataError(f"Inception takes images in [-1, 1]; got values in [{low:.3g}, {high:.3g}]")
    device = next(model.parameters()).device
    model.eval()
    features, probabilities = [], []
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            batch_features, logits = model(images[start:start + batch_size].to(device))
            features.append(batch_features.float().cpu())
            probabilities.append(torch.softmax(logits.float(), dim=1).cpu())
    if not features:
        return torch.empty(0, FEATURE_DIM), torch.empty(0, NUM_CLASSES)
    return torch.cat(features), torch.cat(probabilities)


class InceptionExtractor:
    """The FID Inception-v3 behind the evaluator interface of `gankit.classify.evaluator`."""

    name = "inception-v3"
    feature_dim = FEATURE_DIM
    num_classes = NUM_CLASSES

    def __init__(self, model: FIDInceptionV3) -> None:
        self.model = model

    def extract(self, images: Tensor, batch_size: int = 50) -> tuple[Tensor, Tensor]:
        """(features (N, 2048), softmax probabilities (N, 1008)), float32 on the CPU."""
        return inception_features(self.model, images, batch_size)
