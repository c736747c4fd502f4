"""ResNet-18/50 state dicts match torchvision's names and shapes; user weights load; transfer freezes."""

import pytest
import torch

from gankit.classify.models import build_model
from gankit.classify.resnet import ResNet, load_backbone_weights
from gankit.errors import DataError


def _bn(prefix, channels):
    return [(f"{prefix}.{name}", (channels,)) for name in ("weight", "bias", "running_mean", "running_var")] + \
        [(f"{prefix}.num_batches_tracked", ())]


def torchvision_table(depths, bottleneck, num_classes=1000):
    """(name, shape) in torchvision's state_dict order, written from the paper's table, not from gankit."""
    table = [("conv1.weight", (64, 3, 7, 7))] + _bn("bn1", 64)
    expansion = 4 if bottleneck else 1
    channels = 64
    for stage, (width, depth) in enumerate(zip((64, 128, 256, 512), depths), 1):
        for index in range(depth):
            p = f"layer{stage}.{index}"
            if bottleneck:
                table += [(f"{p}.conv1.weight", (width, channels, 1, 1))] + _bn(f"{p}.bn1", width)
                table += [(f"{p}.conv2.weight", (width, width, 3, 3))] + _bn(f"{p}.bn2", width)
                table += [(f"{p}.conv3.weight", (width * 4, width, 1, 1))] + _bn(f"{p}.bn3", width * 4)
            else:
                table += [(f"{p}.conv1.weight", (width, channels, 3, 3))] + _bn(f"{p}.bn1", width)
                table += [(f"{p}.conv2.weight", (width, width, 3, 3))] + _bn(f"{p}.bn2", width)
            if index == 0 and (stage > 1 or channels != width * expansion):
                table += [(f"{p}.downsample.0.weight", (width * expansion, channels, 1, 1))]
                table += _bn(f"{p}.downsample.1", width * expansion)
            channels = width * expansion
    return table + [("fc.weight", (num_classes, channels)), ("fc.bias", (num_classes,))]


@pytest.mark.parametrize("arch, depths, bottleneck, parameters", [
    ("resnet18", (2, 2, 2, 2), False, 11_689_512),
    ("resnet50", (3, 4, 6, 3), True, 25_557_032),
])
def test_state_dict_keys_shapes_and_parameter_count_match_torchvision(arch, depths, bottleneck, parameters):
    model = ResNet(arch, 1000)
    actual = [(key, tuple(value.shape)) for key, value in model.state_dict().items()]
    assert actual == torchvision_table(depths, bottleneck)
    assert sum(p.numel() for p in model.parameters()) == parameters


def test_user_weights_round_trip_into_a_transfer_model(tmp_path):
    torch.manual_seed(0)
    source = ResNet("resnet18", 1000)
    with torch.no_grad():
        for name, value in source.state_dict().items():
            if "running" in name:
                value.uniform_(0.5, 1.5)
    path = tmp_path / "resnet18-user.pth"
    torch.save(source.state_dict(), path)
    model = build_model("resnet18", 1, 32, 2, pretrained=path)  # binary: one logit
    own = model.state_dict()
    for name, value in source.state_dict().items():
        if not name.startswith("fc."):
            assert torch.equal(own[name], value), name
    assert own["fc.weight"].shape == (1, 512)
    assert {n for n, p in model.named_parameters() if p.requires_grad} == {"fc.weight", "fc.bias"}

    wrapped = tmp_path / "wrapped.pt"  # DataParallel prefixes inside a {"state_dict": ...} checkpoint
    torch.save({"state_dict": {f"module.{k}": v for k, v in source.state_dict().items()}}, wrapped)
    other = ResNet("resnet18", 5)
    assert load_backbone_weights(other, wrapped) == len(own) - 2
    assert torch.equal(other.state_dict()["layer4.1.bn2.running_var"], source.state_dict()["layer4.1.bn2.running_var"])


def test_weights_of_the_wrong_architecture_are_refused(tmp_path):
    path = tmp_path / "r18.pth"
    torch.save(ResNet("resnet18", 1000).state_dict(), path)
    expected = r"does not fit resnet50 \(missing: layer1\.0\.conv3\.weight.*wrong shape: layer1\.0\.conv1"
    with pytest.raises(DataError, match=expected):
        build_model("resnet50", 1, 32, 3, pretrained=path)
    with pytest.raises(DataError, match="not found"):
        build_model("resnet18", 1, 32, 3, pretrained=tmp_path / "absent.pth")


def test_transfer_training_changes_only_the_head(tmp_path):
    path = tmp_path / "r18.pth"
    torch.save(ResNet("resnet18", 1000).state_dict(), path)
    model = build_model("resnet18", 1, 32, 3, pretrained=path)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    assert all(not m.training for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=0.1)
    images = torch.rand(4, 1, 32, 32) * 2 - 1  # grayscale: repeated to 3 channels inside
    loss = torch.nn.functional.cross_entropy(model(images), torch.tensor([0, 1, 2, 0]))
    loss.backward()
    optimizer.step()
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == {"fc.weight", "fc.bias"}
    features, logits = model.features_and_logits(images)
    assert features.shape == (4, 512) and logits.shape == (4, 3)


def test_from_scratch_trains_every_layer():
    model = build_model("resnet18", 3, 32, 4)
    assert all(p.requires_grad for p in model.parameters())
    model.train()
    assert all(m.training for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
