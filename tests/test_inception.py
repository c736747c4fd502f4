"""The FID Inception-v3: layout of the weights file, loader errors, FID-specific
pooling, outputs. The real weights are not available offline, so the numbers cannot
be checked against pytorch-fid here; the layout is checked against the published
architecture instead (Szegedy et al. 2016, in torchvision's Inception3 names)."""

import pytest
import torch

from gankit.errors import DataError
from gankit.metrics.inception import (
    FIDInceptionV3,
    InceptionExtractor,
    inception_features,
    load_inception,
    mixed_a,
    mixed_e,
    prepare_images,
)

# (unit, in channels, out channels, kernel) — kernel k means k×k, (h, w) otherwise.
STEM = [("Conv2d_1a_3x3", 3, 32, 3), ("Conv2d_2a_3x3", 32, 32, 3), ("Conv2d_2b_3x3", 32, 64, 3),
        ("Conv2d_3b_1x1", 64, 80, 1), ("Conv2d_4a_3x3", 80, 192, 3)]


def block_a(c, pool):
    return [("branch1x1", c, 64, 1), ("branch5x5_1", c, 48, 1), ("branch5x5_2", 48, 64, 5),
            ("branch3x3dbl_1", c, 64, 1), ("branch3x3dbl_2", 64, 96, 3), ("branch3x3dbl_3", 96, 96, 3),
            ("branch_pool", c, pool, 1)]


def block_b(c):
    return [("branch3x3", c, 384, 3), ("branch3x3dbl_1", c, 64, 1), ("branch3x3dbl_2", 64, 96, 3),
            ("branch3x3dbl_3", 96, 96, 3)]


def block_c(m, c=768):
    return [("branch1x1", c, 192, 1), ("branch7x7_1", c, m, 1), ("branch7x7_2", m, m, (1, 7)),
            ("branch7x7_3", m, 192, (7, 1)), ("branch7x7dbl_1", c, m, 1), ("branch7x7dbl_2", m, m, (7, 1)),
            ("branch7x7dbl_3", m, m, (1, 7)), ("branch7x7dbl_4", m, m, (7, 1)),
            ("branch7x7dbl_5", m, 192, (1, 7)), ("branch_pool", c, 192, 1)]


def block_d(c=768):
    return [("branch3x3_1", c, 192, 1), ("branch3x3_2", 192, 320, 3), ("branch7x7x3_1", c, 192, 1),
            ("branch7x7x3_2", 192, 192, (1, 7)), ("branch7x7x3_3", 192, 192, (7, 1)),
            ("branch7x7x3_4", 192, 192, 3)]


def block_e(c):
    return [("branch1x1", c, 320, 1), ("branch3x3_1", c, 384, 1), ("branch3x3_2a", 384, 384, (1, 3)),
            ("branch3x3_2b", 384, 384, (3, 1)), ("branch3x3dbl_1", c, 448, 1),
            ("branch3x3dbl_2", 448, 384, 3), ("branch3x3dbl_3a", 384, 384, (1, 3)),
            ("branch3x3dbl_3b", 384, 384, (3, 1)), ("branch_pool", c, 192, 1)]


BLOCKS = {"Mixed_5b": block_a(192, 32), "Mixed_5c": block_a(256, 64), "Mixed_5d": block_a(288, 64),
          "Mixed_6a": block_b(288), "Mixed_6b": block_c(128), "Mixed_6c": block_c(160),
          "Mixed_6d": block_c(160), "Mixed_6e": block_c(192), "Mixed_7a": block_d(),
          "Mixed_7b": block_e(1280), "Mixed_7c": block_e(2048)}


def expected_layout():
    """Key -> shape of pt_inception-2015-12-05-6726825d.pth, expanded from the tables."""
    units = [(name, *rest) for name, *rest in STEM]
    units += [(f"{block}.{name}", *rest) for block, table in BLOCKS.items() for name, *rest in table]
    layout = {}
    for name, c_in, c_out, kernel in units:
        kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
        layout[f"{name}.conv.weight"] = (c_out, c_in, kh, kw)
        for tensor in ("weight", "bias", "running_mean", "running_var"):
            layout[f"{name}.bn.{tensor}"] = (c_out,)
        layout[f"{name}.bn.num_batches_tracked"] = ()
    layout["fc.weight"], layout["fc.bias"] = (1008, 2048), (1008,)
    return layout


@pytest.fixture(scope="module")
def model():
    """Random weights with non-trivial batch-norm statistics and fc bias, in eval mode."""
    torch.manual_seed(0)
    net = FIDInceptionV3()
    with torch.no_grad():
        for name, tensor in net.state_dict().items():
            if name.endswith(("running_mean", "bn.bias", "fc.bias")):
                tensor.normal_(0, 0.1)
            elif name.endswith(("running_var", "bn.weight")):
                tensor.uniform_(0.5, 1.5)
    return net.eval().requires_grad_(False)


def test_layout_matches_the_fid_weights_file(model):
    state = model.state_dict()
    assert {key: tuple(value.shape) for key, value in state.items()} == expected_layout()
    # 94 conv+BN units × 6 entries + fc weight and bias; pytorch-fid issue #34 shows the
    # file carries num_batches_tracked (strict loading in torch < 0.4.1 rejects them).
    assert len(state) == 94 * 6 + 2 == 566
    assert len(list(model.parameters())) == 94 * 3 + 2
    # torchvision documents 27,161,264 parameters for Inception-v3 (Inception_V3_Weights
    # .IMAGENET1K_V1, num_params): remove AuxLogits (conv0 768·128 + 2·128, conv1
    # 128·768·25 + 2·768, fc 768·1000 + 1000) and widen fc from 1000 to 1008 classes.
    aux = 768 * 128 + 2 * 128 + 128 * 768 * 25 + 2 * 768 + 768 * 1000 + 1000
    expected_parameters = 27_161_264 - aux + 2048 * 8 + 8
    assert sum(p.numel() for p in model.parameters()) == expected_parameters == 23_850_960


def test_fid_blocks_pool_like_tensorflow():
    """A/C/E average pools leave the padding out (ones stay ones at the border);
    Mixed_7c max-pools. Checked through a branch_pool unit set to the identity."""
    def identity(unit):
        channels = unit.conv.weight.shape[0]
        with torch.no_grad():
            unit.conv.weight.copy_(torch.eye(channels).view(channels, channels, 1, 1))
            unit.bn.weight.fill_(1)
            unit.bn.bias.zero_()
            unit.bn.running_mean.zero_()
            unit.bn.running_var.fill_(1 - unit.bn.eps)  # BN scale 1 / sqrt(var + eps) = 1

    block = mixed_a(4, pool_ch=4).eval()
    identity(block.branch_pool)
    out = block(torch.ones(1, 4, 5, 5))
    assert torch.allclose(out[:, -4:], torch.ones(1, 4, 5, 5))  # with the padding counted: 4/9 at corners

    block = mixed_e(192, pool="max").eval()
    identity(block.branch_pool)
    spike = torch.zeros(1, 192, 5, 5)
    spike[:, :, 2, 2] = 1.0
    expected = torch.zeros(1, 192, 5, 5)
    expected[:, :, 1:4, 1:4] = 1.0
    assert torch.allclose(block(spike)[:, -192:], expected)
    net = FIDInceptionV3()
    assert [branch.pool for branch in net.Mixed_7b.branches][-1] == "avg"
    assert [branch.pool for branch in net.Mixed_7c.branches][-1] == "max"


def test_input_is_gray_to_rgb_and_bilinear_299_without_corner_alignment():
    row = torch.tensor([[[[-1.0, 1.0]]]])  # (1, 1, 1, 2)
    x = prepare_images(row)
    assert x.shape == (1, 3, 299, 299) and torch.equal(x[:, 0], x[:, 2])
    # align_corners=False: output pixel i samples (i + 0.5)·2/299 − 0.5, clamped at the
    # border, so pixels 0–74 copy the left value exactly (align_corners=True: pixel 0 only).
    assert (x[0, 0, :, :75] == -1).all() and torch.allclose(x[0, 0, :, -75:], torch.ones(1), atol=1e-6)
    assert x[0, 0, 0, 75] > -1 and abs(float(x[0, 0, 0, 149])) < 1e-6


def test_round_trip_through_a_file(model, tmp_path):
    path = tmp_path / "pt_inception-2015-12-05-6726825d.pth"
    torch.save(model.state_dict(), path)
    loaded = load_inception(path)
    assert not loaded.training and not any(p.requires_grad for p in loaded.parameters())
    original = model.state_dict()
    for key, value in loaded.state_dict().items():
        assert torch.equal(value, original[key]), key


def cheap_state(model):
    """The model's layout with zero-stride tensors: a file of a few kilobytes."""
    return {key: torch.zeros((), dtype=value.dtype).expand(value.shape) for key, value in model.state_dict().items()}


def test_file_without_batch_counters_loads(model, tmp_path):
    state = {key: value for key, value in cheap_state(model).items() if not key.endswith("num_batches_tracked")}
    assert len(state) == 472  # what torch-fidelity's converter writes
    torch.save(state, tmp_path / "w.pth")
    assert load_inception(tmp_path / "w.pth").fc.weight.abs().sum() == 0


@pytest.mark.parametrize("change, message", [
    (lambda s: s.pop("Mixed_6c.branch7x7_2.bn.running_var"), "1 missing keys (first: Mixed_6c.branch7x7_2.bn.running_var)"),
    (lambda s: s.update({"fc.weight": torch.zeros(1000, 2048)}), "fc.weight (1000, 2048) (expected (1008, 2048))"),
    (lambda s: s.update({"AuxLogits.fc.weight": torch.zeros(1008, 768)}), "1 unexpected keys (first: AuxLogits.fc.weight)"),
])
def test_layout_mismatch_is_a_data_error_naming_the_key(model, tmp_path, change, message):
    state = cheap_state(model)
    change(state)
    torch.save(state, tmp_path / "w.pth")
    with pytest.raises(DataError, match="pt_inception-2015-12-05") as caught:
        load_inception(tmp_path / "w.pth")
    assert message in str(caught.value)


def test_unusable_files_are_data_errors(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_inception(tmp_path / "absent.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a torch file")
    with pytest.raises(DataError, match="cannot be read"):
        load_inception(tmp_path / "junk.pth")
    torch.save([torch.zeros(3)], tmp_path / "list.pth")
    with pytest.raises(DataError, match="not a dict"):
        load_inception(tmp_path / "list.pth")


@pytest.mark.parametrize("shape", [(2, 1, 28, 28), (2, 3, 64, 64)])
def test_extract_gives_features_and_probabilities(model, shape):
    torch.manual_seed(1)
    images = torch.rand(shape) * 2 - 1
    extractor = InceptionExtractor(model)
    assert (extractor.name, extractor.feature_dim, extractor.num_classes) == ("inception-v3", 2048, 1008)
    features, probs = extractor.extract(images, batch_size=1)
    assert features.shape == (2, 2048) and probs.shape == (2, 1008)
    assert features.dtype == probs.dtype == torch.float32
    assert (features >= 0).all() and torch.allclose(probs.sum(dim=1), torch.ones(2), atol=1e-5)
    # Inception Score logits are fc without its bias (the bias here is non-zero).
    expected = torch.softmax(features.double() @ model.fc.weight.double().T, dim=1).float()
    assert torch.allclose(probs, expected, atol=1e-6)
    if shape[1] == 1:  # gray is the same image repeated to RGB
        rgb_features, _ = inception_features(model, images.repeat(1, 3, 1, 1), batch_size=2)
        assert torch.allclose(rgb_features, features, atol=1e-4)


def test_bad_images_are_data_errors(model):
    for images, message in [(torch.zeros(2, 2, 8, 8), "1 or 3"), (torch.full((1, 3, 8, 8), 255.0), r"\[-1, 1\]"),
                            (torch.zeros(1, 3, 8, 8, dtype=torch.uint8), "float")]:
        with pytest.raises(DataError, match=message):
            inception_features(model, images)
    with pytest.raises(DataError, match="batch_size"):
        inception_features(model, torch.zeros(1, 3, 8, 8), batch_size=0)
    features, probs = inception_features(model, torch.zeros(0, 3, 8, 8))
    assert features.shape == (0, 2048) and probs.shape == (0, 1008)
