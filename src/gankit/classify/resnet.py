"""ResNet-18 and ResNet-50 (He et al. 2016) in plain torch, named like torchvision's.

Every parameter and buffer has torchvision's name and shape (``conv1``, ``bn1``,
``layer1.0.conv1``, ..., ``layer2.0.downsample.0/1``, ``fc``), so a weights file a
user already has (``resnet50-*.pth``, a ``torch.save(model.state_dict())``) loads
with :func:`load_backbone_weights` — gankit never downloads one. The stride of a
bottleneck sits on its 3×3 convolution (torchvision's "ResNet v1.5").

The cats-vs-dogs study's transfer learning: the ImageNet backbone is frozen (its batch-norm
layers kept in inference mode, as Keras does for non-trainable layers) and only a
new ``fc`` head is trained. Inputs are gankit images in [−1, 1]; the network maps
them to [0, 1], repeats grayscale to 3 channels, and applies ImageNet's per-channel
normalisation before ``conv1``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from gankit.errors import DataError
from gankit.files.torchfile import load_plain

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
STAGE_WIDTHS = (64, 128, 256, 512)


class BasicBlock(nn.Module):
    """Two 3×3 convolutions with a residual connection (ResNet-18/34)."""

    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + shortcut)


class Bottleneck(nn.Module):
    """1×1 reduce, 3×3 (strided), 1×1 expand ×4, with a residual connection (ResNet-50)."""

    expansion = 4

    def __init__(self, in_planes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + shortcut)


ARCHITECTURES: dict[str, tuple[type[nn.Module], tuple[int, ...]]] = {
    "resnet18": (BasicBlock, (2, 2, 2, 2)),
    "resnet50": (Bottleneck, (3, 4, 6, 3)),
}


class ResNet(nn.Module):
    """A torchvision-compatible ResNet with gankit's classifier interface.

    `features(x)` are the globally pooled activations before ``fc`` (512 for
    ResNet-18, 2,048 for ResNet-50); `forward` returns ``fc``'s outputs
    (`num_outputs`: 1 logit for two classes, else one per class).
    """

    def __init__(self, arch: str, num_outputs: int = 1000, *, in_channels: int = 3, image_size: int = 224,
                 num_classes: int | None = None):
        super().__init__()
        if arch not in ARCHITECTURES:
            raise ValueError(f"unknown ResNet {arch!r}; choose one of {', '.join(ARCHITECTURES)}")
        block, depths = ARCHITECTURES[arch]
        self.arch, self.in_channels, self.image_size = arch, in_channels, image_size
        self.num_classes = num_classes or num_outputs
        self.backbone_frozen = False
        self.register_buffer("input_mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("input_std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        in_planes = 64
        for index, (planes, depth) in enumerate(zip(STAGE_WIDTHS, depths)):
            stride = 1 if index == 0 else 2
            layer, in_planes = _stage(block, in_planes, planes, depth, stride)
            setattr(self, f"layer{index + 1}", layer)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.feature_dim = in_planes
        self.fc = nn.Linear(in_planes, num_outputs)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def features(self, x: Tensor) -> Tensor:
        """(N, feature_dim) pooled backbone activations of images (N, 1|3, H, W) in [−1, 1]."""
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)
        x = ((x + 1) / 2 - self.input_mean) / self.input_std
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.features(x))

    def freeze_backbone(self) -> None:
        """Transfer mode: only ``fc`` trains; backbone batch norms stay in inference mode."""
        self.backbone_frozen = True
        for name, parameter in self.named_parameters():
            parameter.requires_grad = name.startswith("fc.")
        self.train(self.training)

    def train(self, mode: bool = True) -> "ResNet":
        super().train(mode)
        if self.backbone_frozen:
            for module in self.modules():
                if isinstance(module, nn.BatchNorm2d):
                    module.eval()
        return self


def _stage(block: type[nn.Module], in_planes: int, planes: int, depth: int, stride: int) -> tuple[nn.Sequential, int]:
    """`depth` blocks; the first one strides and projects the shortcut when the shape changes."""
    out_planes = planes * block.expansion
    downsample = None
    if stride != 1 or in_planes != out_planes:
        downsample = nn.Sequential(nn.Conv2d(in_planes, out_planes, 1, stride=stride, bias=False),
                                   nn.BatchNorm2d(out_planes))
    blocks = [block(in_planes, planes, stride, downsample)]
    blocks += [block(out_planes, planes) for _ in range(depth - 1)]
    return nn.Sequential(*blocks), out_planes


def read_state_dict(path: str | Path) -> dict[str, Tensor]:
    """The tensors of a weights file (a state dict, or a dict holding one under ``state_dict``
    or ``model``), ``module.`` prefixes of DataParallel removed; loaded with weights_only."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"weights file '{path}' not found; give the path of a torchvision ResNet state dict "
                        "(e.g. resnet50-0676ba61.pth) — gankit never downloads weights")
    payload = load_plain(path, "weights file", DataError,
                         "it must be a plain state dict saved with torch.save(model.state_dict(), path)")
    for key in ("state_dict", "model"):
        if isinstance(payload, dict) and isinstance(payload.get(key), dict):
            payload = payload[key]
    if not isinstance(payload, dict) or not all(isinstance(v, Tensor) for v in payload.values()):
        raise DataError(f"'{path}' does not hold a state dict (a mapping of parameter names to tensors)")
    return {key.removeprefix("module."): value for key, value in payload.items()}


def load_backbone_weights(model: ResNet, path: str | Path) -> int:
    """Copy every backbone tensor of a torchvision weights file into `model` (``fc`` is
    the new head and is not loaded); return how many tensors were copied. Any missing,
    extra or mis-shaped backbone tensor is a `DataError` naming the first few."""
    state = {key: value for key, value in read_state_dict(path).items() if not key.startswith("fc.")}
    own = {key: value for key, value in model.state_dict().items() if not key.startswith("fc.")}
    missing = [key for key in own if key not in state and not key.endswith("num_batches_tracked")]
    extra = [key for key in state if key not in own]
    wrong = [f"{key} {tuple(state[key].shape)} (expected {tuple(own[key].shape)})"
             for key in state if key in own and state[key].shape != own[key].shape]
    if missing or extra or wrong:
        problems = "; ".join(f"{what}: {', '.join(keys[:3])}{' ...' if len(keys) > 3 else ''}"
                             for what, keys in (("missing", missing), ("unexpected", extra), ("wrong shape", wrong))
                             if keys)
        raise DataError(f"'{path}' does not fit {model.arch} ({problems}); give torchvision {model.arch} weights")
    model.load_state_dict(state, strict=False)
    return len(state)
