"""Exported generators (ONNX, TorchScript, safetensors) compute what the run's generator computes,
at any batch size, outside gankit; the model card describes them; bad requests fail clearly."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import gankit
from gankit.config import load_config
from gankit.errors import ConfigError, GankitError
from gankit.export import card_paths
from gankit.run import export_run
from gankit.models import build_models
from gankit.pictures.grid import to_uint8
from gankit.run import Run

from conftest import TINY

ort = pytest.importorskip("onnxruntime")
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")

SUFFIX = {"onnx": "onnx", "torchscript": "pt", "safetensors": "safetensors"}
DCGAN_TINY = ["data.name=mnist", "data.limit=64", "model.family=dcgan", "model.base_width=4", "model.latent_dim=8",
              "model.g_output=tanh", "train.batch_size=32", "train.epochs=1", "train.sample_every=0",
              "train.checkpoint_every=1", "eval.n=64", "eval.kid_subsets=2", "eval.bootstrap=2",
              "train.progress=false", "train.ema_decay=0.9"]


@pytest.fixture(scope="module")
def mlp_run(tmp_path_factory):
    """A ring8 MLP run with an EMA generator, evaluated every epoch (so it has best.pt)."""
    return gankit.train("toy-ring8", overrides=TINY + ["eval.every=1"], out=tmp_path_factory.mktemp("mlp") / "run")


@pytest.fixture(scope="module")
def dcgan_run(tmp_path_factory):
    """A tiny TF-style DCGAN (batch norm in G) on 64 MNIST digits, one epoch."""
    return gankit.train("toy-ring8", overrides=DCGAN_TINY, out=tmp_path_factory.mktemp("dcgan") / "run")


@pytest.fixture(params=["mlp", "dcgan"])
def run(request):
    return request.getfixturevalue(f"{request.param}_run")


def _latents(run: Run, batch: int, seed: int = 1) -> torch.Tensor:
    return torch.randn(batch, run.config.model.latent_dim, generator=torch.Generator().manual_seed(seed))


def _expected(run: Run, z: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return run.generator(z)


def _run_onnx(path, z: torch.Tensor) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"z": z.numpy()})[0]


@pytest.mark.parametrize("batch", [1, 13])  # the export traced a batch of 2
def test_onnx_matches_the_generator_at_unseen_batch_sizes(run, tmp_path, batch):
    path = run.export_generator(tmp_path / "g.onnx", "onnx")
    z = _latents(run, batch)
    out = _run_onnx(path, z)
    assert out.shape == (batch, *run.sample_shape) and out.dtype == np.float32
    np.testing.assert_allclose(out, _expected(run, z).numpy(), atol=1e-5, rtol=0)


def test_safetensors_rebuilds_the_generator_without_the_run_folder(run, tmp_path):
    path = run.export_generator(tmp_path / "g.safetensors", "safetensors")
    card_paths(path)[0].unlink()  # the architecture travels inside the file
    generator = gankit.load_generator(path)
    assert not generator.training and generator.latent_dim == run.config.model.latent_dim
    z = _latents(run, 9)
    with torch.no_grad():
        torch.testing.assert_close(generator(z), _expected(run, z), atol=1e-5, rtol=0)


FRESH_TORCH = """
import sys, torch
results = {}
for name, latents in torch.load(sys.argv[1]).items():
    module = torch.jit.load(name)
    results[name] = module(latents)
torch.save(results, sys.argv[2])
assert "gankit" not in sys.modules, "the TorchScript file pulled in gankit"
"""


def test_torchscript_loads_with_torch_alone_in_a_fresh_process(mlp_run, dcgan_run, tmp_path):
    inputs, expected = {}, {}
    for family, run in (("mlp", mlp_run), ("dcgan", dcgan_run)):
        path = run.export_generator(tmp_path / f"{family}.pt", "torchscript")
        for batch in (1, 11):
            copy = tmp_path / f"{family}-{batch}.pt"  # one file per batch size: results keyed by file
            copy.write_bytes(path.read_bytes())
            inputs[str(copy)] = _latents(run, batch)
            expected[str(copy)] = _expected(run, inputs[str(copy)])
    torch.save(inputs, tmp_path / "in.pt")
    result = subprocess.run([sys.executable, "-c", FRESH_TORCH, str(tmp_path / "in.pt"), str(tmp_path / "out.pt")],
                            capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    outputs = torch.load(tmp_path / "out.pt")
    for name, want in expected.items():
        torch.testing.assert_close(outputs[name], want, atol=1e-5, rtol=0)


@pytest.mark.parametrize("file_format", ["onnx", "torchscript", "safetensors"])
def test_uint8_bakes_in_gankits_pixel_mapping(dcgan_run, tmp_path, file_format):
    path = dcgan_run.export_generator(tmp_path / f"g.{SUFFIX[file_format]}", file_format, uint8=True)
    z = _latents(dcgan_run, 6)
    if file_format == "onnx":
        pixels = _run_onnx(path, z)
    else:
        module = torch.jit.load(str(path)) if file_format == "torchscript" else gankit.load_generator(path)
        pixels = module(z).numpy()
    assert pixels.dtype == np.uint8 and pixels.shape == (6, 1, 28, 28)
    want = to_uint8(_expected(dcgan_run, z))
    # float32 differences of ~1e-7 may move a value across a rounding boundary: at most 1 level
    assert np.abs(pixels[:, 0].astype(int) - want.astype(int)).max() <= 1
    assert (pixels[:, 0] == want).mean() > 0.99


@pytest.mark.parametrize("file_format", ["onnx", "torchscript", "safetensors"])
def test_model_card_describes_the_export_and_its_usage_lines_run(mlp_run, tmp_path, monkeypatch, file_format):
    name = f"ring.{SUFFIX[file_format]}"
    mlp_run.export_generator(tmp_path / name, file_format)
    card_json, card_md = card_paths(tmp_path / name)
    card = json.loads(card_json.read_text())
    assert card["data"]["name"] == "ring8" and card["objective"]["name"] == mlp_run.config.objective.name
    assert card["training"]["epochs"] == 3 and card["checkpoint"] == "last.pt" and card["ema_generator"] is True
    assert card["latent"] == {"dim": mlp_run.config.model.latent_dim, "distribution": "normal", "truncation": None}
    metrics = card["metrics"]
    assert metrics["epoch"] == 3 and metrics["n"] == 200 and metrics["feature_space"]
    assert "precision" in metrics["values"] and "modes_captured" in metrics["values"]
    assert card["versions"]["gankit"] == gankit.__version__ and card["versions"]["torch"] == torch.__version__
    assert len(card["usage"]) == 3
    markdown = card_md.read_text()
    assert "n = 200" in markdown and "```python" in markdown and card["usage"][1] in markdown
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec("\n".join(card["usage"]), scope)  # noqa: S102 - the card's own three lines
    assert tuple(np.asarray(scope["points"]).shape) == (16, 2)


def test_best_checkpoint_by_choice_and_a_missing_one_is_a_config_error(mlp_run, tmp_path):
    path = export_run(mlp_run.path, tmp_path / "best.onnx", "onnx", checkpoint="best")
    card = json.loads(card_paths(path)[0].read_text())
    assert card["checkpoint"] == "best.pt"
    assert card["metrics"]["epoch"] <= card["training"]["epochs"]
    best = gankit.load_run(mlp_run.path, "best")
    z = _latents(best, 5)
    np.testing.assert_allclose(_run_onnx(path, z), _expected(best, z).numpy(), atol=1e-5, rtol=0)
    with pytest.raises(ConfigError, match="does not exist"):
        export_run(mlp_run.path, tmp_path / "x.onnx", "onnx", checkpoint="epoch_0099")


@pytest.mark.parametrize("g_overrides", [["model.g_batch_norm=true", "model.g_dropout=0.3"],
                                         ["model.latent_distribution=uniform"]])
def test_mlp_image_generators_with_batch_norm_dropout_or_uniform_latents(tmp_path, g_overrides):
    """Untrained, straight from the config: variants the trained fixtures do not cover."""
    config = load_config("mnist-mlp", ["model.g_hidden=16,16", "model.latent_dim=6", *g_overrides])
    generator, discriminator = build_models(config.model, (1, 28, 28))
    run = Run(tmp_path, config, generator.eval(), discriminator.eval(), tmp_path / "last.pt", (1, 28, 28))
    z = _latents(run, 4)
    np.testing.assert_allclose(_run_onnx(run.export_generator(tmp_path / "g.onnx", "onnx"), z),
                               _expected(run, z).numpy(), atol=1e-5, rtol=0)
    card = json.loads(card_paths(tmp_path / "g.onnx")[0].read_text())
    assert card["metrics"] is None and card["training"]["epochs"] is None
    if "model.latent_distribution=uniform" in g_overrides:
        assert "np.random.uniform(-1, 1, (16, 6))" in card["usage"][2]


def test_exporting_leaves_the_runs_generator_as_it_was(mlp_run, tmp_path):
    before = {k: v.clone() for k, v in mlp_run.generator.state_dict().items()}
    mlp_run.export_generator(tmp_path / "g.pt", "torchscript")
    assert all(torch.equal(before[k], v) for k, v in mlp_run.generator.state_dict().items())
    assert not any(p.grad is not None for p in mlp_run.generator.parameters())


def test_missing_onnx_names_the_extra(mlp_run, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now raises ImportError
    with pytest.raises(GankitError, match=r"gankit\[export\]"):
        mlp_run.export_generator(tmp_path / "g.onnx", "onnx")
    assert not (tmp_path / "g.onnx").exists()


def test_load_generator_refuses_other_files_clearly(mlp_run, tmp_path):
    onnx_file = mlp_run.export_generator(tmp_path / "g.onnx", "onnx")
    with pytest.raises(GankitError, match="onnxruntime"):
        gankit.load_generator(onnx_file)


def test_the_docs_onnx_example_runs(dcgan_run, tmp_path, monkeypatch):
    page = (Path(__file__).parents[1] / "docs" / "export.md").read_text(encoding="utf-8")
    example = page.split("<!-- onnx-example -->", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    assert len([line for line in example.splitlines() if line.strip()]) <= 10
    dcgan_run.export_generator(tmp_path / "digits.onnx", "onnx")
    monkeypatch.chdir(tmp_path)
    exec(example, {})  # noqa: S102 - the export page's own example
    from PIL import Image

    assert Image.open(tmp_path / "digits.png").size == (8 * 28, 28)
