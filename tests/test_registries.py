"""A new objective, dataset, augmentation or model family is one record in its registry:
each toy below is added by a register call alone and trains. Unknown names are refused with
the valid ones listed, never silently mapped to something else."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import gankit
from gankit.config import DataConfig, ModelConfig, load_config
from gankit.config.registry import Names
from gankit.data import DATASETS, Dataset, DatasetRecord, load_dataset, register_dataset
from gankit.errors import ConfigError
from gankit.models import DCGAN_STYLES, MODEL_FAMILIES, ModelFamily, build_generator, register_model_family
from gankit.objectives import OBJECTIVES, ObjectiveRecord, build_objective, register_objective, smoothed_real_term
from gankit.objectives.ratio import safe_log
from gankit.training.augment import AUGMENTATIONS, Augmentation, DiffAugment, register_augmentation

from conftest import TINY

ONE_EPOCH = [*TINY, "train.epochs=1", "train.checkpoint_every=0"]
TINY_MNIST = ["data.name=mnist", "data.limit=64", "model.family=dcgan", "model.base_width=4", "model.latent_dim=8",
              "model.g_output=tanh", "train.batch_size=32", "train.epochs=1", "train.sample_every=0",
              "train.checkpoint_every=0", "eval.every=0", "eval.n=64", "eval.bootstrap=0", "train.progress=false",
              "train.tensorboard=false"]


@pytest.fixture(autouse=True)
def scratch_registries(monkeypatch):
    """What a test registers is gone after it (the registries and config's names are copies)."""
    for registry in (OBJECTIVES, DATASETS, AUGMENTATIONS, MODEL_FAMILIES, DCGAN_STYLES):
        monkeypatch.setattr(registry, "_records", dict(registry._records))
        monkeypatch.setattr(registry.names, "_facts", dict(registry.names._facts))


# --- a toy objective: least squares with targets −1 (fake) and 1 (real) ------------------------

def _toy_d_losses(real_out, fake_out, objective):
    v_r, v_f = real_out.reshape(-1), fake_out.reshape(-1)
    real = smoothed_real_term(lambda v: 0.5 * (v - 1.0) ** 2, lambda v: 0.5 * (v + 1.0) ** 2, v_r,
                              objective.label_smoothing)
    return real.mean(), (0.5 * (v_f + 1.0) ** 2).mean()


TOY_OBJECTIVE = ObjectiveRecord(
    "toy-ls", _toy_d_losses, lambda fake_out, objective: (0.5 * fake_out.reshape(-1) ** 2).mean(),
    d_terms=(lambda v, gamma: v - 1.0, lambda v, gamma: v + 1.0), g_term=lambda v, gamma: v,
    density_ratio=lambda v, gamma: safe_log(1.0 + v) - safe_log(1.0 - v),  # D* = (p − q)/(p + q)
    ratio_text="toy least squares: D̃ = log(1 + v) − log(1 − v)",
)


def test_a_registered_objective_trains(tmp_path):
    register_objective(TOY_OBJECTIVE)
    objective = build_objective("toy-ls", label_smoothing=0.9)
    real = torch.randn(6, dtype=torch.float64, requires_grad=True)
    fake = torch.randn(4, dtype=torch.float64, requires_grad=True)
    expected = torch.autograd.grad(sum(objective.d_losses(real, fake)), [real, fake])
    for got, want in zip(objective.d_score_gradients(real.detach(), fake.detach()), expected):
        torch.testing.assert_close(got, want)
    assert objective.has_density_ratio and not objective.uses_gradient_penalty

    # the manual MLP step (closed-form derivatives) and the autograd step both train it
    for extra in ([], ["model.spectral_norm=true"]):
        run = gankit.train(None, overrides=[*ONE_EPOCH, "objective.name=toy-ls", *extra],
                           out=tmp_path / f"run{len(extra)}")
        assert run.config.objective.name == "toy-ls"
        assert torch.isfinite(torch.tensor(run.history[-1]["g_loss"]))
    with pytest.raises(ConfigError, match="toy-ls has one generator loss"):
        load_config(None, [*ONE_EPOCH, "objective.name=toy-ls", "objective.generator_loss=saturating"])


def test_a_registered_dataset_trains(tmp_path):
    def load_square(data_config, progress):
        generator = torch.Generator().manual_seed(data_config.seed)
        points = torch.rand(data_config.n_samples, 2, generator=generator) * 2 - 1
        return Dataset("toy-square", points, geometry=None)

    register_dataset(DatasetRecord("toy-square", "points", load_square))
    assert load_dataset(DataConfig(name="toy-square", n_samples=100)).tensor.shape == (100, 2)
    run = gankit.train(None, overrides=[*ONE_EPOCH, "data.name=toy-square"], out=tmp_path / "run")
    assert run.config.data.name == "toy-square" and "energy_distance" in run.metrics
    with pytest.raises(ConfigError, match="augmentations act on images"):
        load_config(None, [*ONE_EPOCH, "data.name=toy-square", "augment.policy=flip"])


def test_a_registered_augmentation_trains(tmp_path):
    def draw_shift(count, size, generator, device):
        return (torch.rand(count, generator=generator, device=device),)

    def shift(x, amount):
        return x + (amount.view(-1, 1, 1, 1).to(x.dtype) - 0.5)

    register_augmentation(Augmentation("toy-shift", draw_shift, shift))
    x = torch.zeros(4, 1, 8, 8)
    got = DiffAugment("toy-shift")(x, torch.Generator().manual_seed(3))
    draws = torch.Generator().manual_seed(3)
    torch.rand(4, generator=draws)  # whether each image is augmented (p = 1: all are)
    expected = torch.rand(4, generator=draws).view(-1, 1, 1, 1) - 0.5
    torch.testing.assert_close(got, expected.expand_as(x))

    run = gankit.train(None, overrides=[*TINY_MNIST, "augment.policy=toy-shift,cutout", "augment.p=0.5"],
                       out=tmp_path / "run")
    assert run.history[-1]["augment_p"] == 0.5


def test_a_registered_model_family_trains(tmp_path):
    def generator(m, shape):
        return nn.Sequential(nn.Linear(m.latent_dim, shape[0]))

    def discriminator(m, shape):
        return nn.Sequential(nn.Linear(shape[0] * m.pack, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1))

    register_model_family(ModelFamily("toy-linear", generator, discriminator))
    run = gankit.train(None, overrides=[*ONE_EPOCH, "model.family=toy-linear"], out=tmp_path / "run")
    assert run.config.model.family == "toy-linear"


# --- unknown names ------------------------------------------------------------------------------

@pytest.mark.parametrize("policy", [("rotate",), ("color", "flipp")])
def test_an_unknown_augmentation_is_refused_not_flipped(policy):
    with pytest.raises(ConfigError, match="unknown operation .*color, translation, cutout, flip"):
        DiffAugment(policy)
    with pytest.raises(ConfigError, match="unknown operation"):
        DiffAugment(",".join(policy))
    with pytest.raises(ConfigError, match="augment.policy: unknown operation"):
        load_config(None, [*TINY_MNIST, f"augment.policy={','.join(policy)}"])


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ConfigError, match="unknown objective 'toy-ls'.*Choose one of: bce, lsgan"):
        build_objective("toy-ls")
    with pytest.raises(ConfigError, match="unknown dataset 'squares'.*ring8"):
        load_dataset(DataConfig(name="squares"))
    with pytest.raises(ConfigError, match="unknown model family 'mlpp'. Did you mean 'mlp'"):
        build_generator(ModelConfig(family="mlpp"), (2,))
    with pytest.raises(ConfigError, match="unknown DCGAN style 'tensorflow'.*tf, keras, radford"):
        build_generator(ModelConfig(family="dcgan", dcgan_style="tensorflow"), (1, 28, 28))
    with pytest.raises(ConfigError, match="data.name: 'squares' is not one of .*folder"):
        load_config(None, [*ONE_EPOCH, "data.name=squares"])


def test_registering_twice_or_against_the_declared_fact_is_refused():
    with pytest.raises(ValueError, match="registered already"):
        register_objective(OBJECTIVES["bce"])
    names = Names("data.name", "dataset", {"mnist": "images"})
    with pytest.raises(ValueError, match="declared with 'images'"):
        names.add("mnist", "points")
