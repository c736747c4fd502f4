"""Inference copies (models/fold.py): batch norm folded into the layer before it, channels-last
on the CPU — the same function as the network in eval mode, up to float32 rounding."""

import pytest
import torch
from torch import nn

from gankit.classify.evaluator import load_evaluator
from gankit.models.fold import fold_batch_norm, inference_copy


def _with_statistics(module: nn.Module) -> nn.Module:
    """Random running statistics and affine parameters, so that folding has something to fold."""
    generator = torch.Generator().manual_seed(0)
    for norm in module.modules():
        if isinstance(norm, nn.modules.batchnorm._BatchNorm):
            n = norm.num_features
            norm.running_mean.copy_(torch.randn(n, generator=generator))
            norm.running_var.copy_(torch.rand(n, generator=generator) + 0.1)
            if norm.affine:
                norm.weight.data.copy_(torch.randn(n, generator=generator))
                norm.bias.data.copy_(torch.randn(n, generator=generator))
    return module.eval()


@pytest.mark.parametrize("layers,shape", [
    ([nn.Linear(6, 5), nn.BatchNorm1d(5), nn.ReLU()], (4, 6)),
    ([nn.Linear(6, 5, bias=False), nn.BatchNorm1d(5, affine=False)], (4, 6)),
    ([nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 2, 3), nn.BatchNorm2d(2)],
     (2, 3, 7, 7)),
    ([nn.ConvTranspose2d(4, 3, 5, 2, padding=2, output_padding=1, bias=True), nn.BatchNorm2d(3)], (2, 4, 5, 5)),
])
def test_folded_layers_compute_the_eval_mode_function(layers, shape):
    torch.manual_seed(0)
    module = _with_statistics(nn.Sequential(*layers))
    x = torch.randn(shape)
    expected = module(x)
    folded = fold_batch_norm(module)
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in folded.modules())
    torch.testing.assert_close(folded(x), expected, rtol=1e-5, atol=1e-5)


def test_what_is_not_folded_stays():
    leading = nn.Sequential(nn.BatchNorm1d(4), nn.Linear(4, 3))  # nothing before the norm
    grouped = nn.Sequential(nn.Conv2d(4, 4, 3, groups=2), nn.BatchNorm2d(4))
    batch_only = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3, track_running_stats=False))
    for module in (leading, grouped, batch_only):
        fold_batch_norm(module)
        assert any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


def test_inference_copy_leaves_the_network_alone():
    torch.manual_seed(0)
    module = _with_statistics(nn.Sequential(nn.Conv2d(1, 4, 3, bias=False), nn.BatchNorm2d(4), nn.Flatten(),
                                            nn.Linear(4 * 5 * 5, 2)))
    module.train()
    before = {k: v.clone() for k, v in module.state_dict().items()}
    fast = inference_copy(module)
    assert module.training and all(torch.equal(before[k], v) for k, v in module.state_dict().items())
    assert not fast.training and not any(p.requires_grad for p in fast.parameters())
    assert fast[0].weight.is_contiguous(memory_format=torch.channels_last)
    x = torch.randn(3, 1, 7, 7)
    torch.testing.assert_close(fast(x.contiguous(memory_format=torch.channels_last)), module.eval()(x),
                               rtol=1e-5, atol=1e-5)


def test_evaluator_features_match_its_network_in_eval_mode():
    evaluator = load_evaluator()
    images = torch.rand(64, 1, 28, 28) * 2 - 1
    features, probabilities = evaluator.extract(images, batch_size=24)
    network = evaluator.network.eval()
    with torch.no_grad():
        expected_features, logits = network.features_and_logits(images)
    torch.testing.assert_close(features, expected_features, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(probabilities, torch.softmax(logits, 1), rtol=1e-4, atol=1e-5)
