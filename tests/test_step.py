"""The adversarial step's EMA helpers: the generator's moving average and its warm-up.

The fused-optimizer call, the one-node MLP chain and the hand-written manual step are
tested in tests/test_manual_mlp.py; the step as the trainer runs it (resume bit for bit,
statistics columns) in tests/test_trainer.py and tests/test_devices.py."""

import torch
from torch import nn

from gankit.training.step import ema_decay_at, make_ema, update_ema


def test_ema_averages_weights_and_batch_norm_statistics():
    torch.manual_seed(0)
    generator = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    ema = make_ema(generator)
    with torch.no_grad():
        generator[0].weight.add_(1.0)
    generator.train()
    generator(torch.randn(16, 3) * 5 + 2)  # moves the running statistics
    old_weight, old_mean = ema[0].weight.clone(), ema[1].running_mean.clone()
    update_ema(ema, generator, decay=0.9)
    assert torch.allclose(ema[0].weight, 0.9 * old_weight + 0.1 * generator[0].weight)
    assert torch.allclose(ema[1].running_mean, 0.9 * old_mean + 0.1 * generator[1].running_mean)
    assert ema[1].num_batches_tracked == generator[1].num_batches_tracked
    assert not any(p.requires_grad for p in ema.parameters())


def test_ema_warm_up_follows_the_generator_first_then_the_configured_decay():
    assert ema_decay_at(0.999, 0) == 0.1  # the first average is mostly G itself
    assert ema_decay_at(0.999, 90) == 0.91
    assert ema_decay_at(0.999, 10**6) == 0.999
    assert ema_decay_at(0.9, 200) == 0.9
