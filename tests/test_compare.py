"""gankit.compare: run discovery, labels from the differing settings, the best-marked table
(Markdown, CSV, HTML), the figures' legends, index.html, and the errors a user can cause."""

import csv
import io
import json
import re
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest

import gankit
from gankit.config import load_config
from gankit.errors import GankitError
from gankit.report import compare_plots


def _make_run(path: Path, overrides: list[str], final: dict, curves: dict, epochs: int = 3,
              sample: bool = True) -> Path:
    """A run folder as the trainer writes it, with chosen numbers: config.toml, metrics.jsonl,
    final_metrics.json and a last sample picture."""
    path.mkdir(parents=True)
    (path / "config.toml").write_text(load_config("toy-ring8", overrides).to_toml())
    with open(path / "metrics.jsonl", "w") as handle:
        for epoch in range(1, epochs + 1):
            record = {"epoch": epoch, "step": 8 * epoch, "time": float(epoch),
                      "g_loss": 1.0 / epoch, "d_loss_real": 0.5, "d_loss_fake": 0.6, "n_fake": 200}
            record.update({key: values[epoch - 1] for key, values in curves.items()})
            handle.write(json.dumps(record) + "\n")
    if final:
        (path / "final_metrics.json").write_text(json.dumps({**final, "epoch": epochs, "train_seconds": 1.5,
                                                             "n_fake": 200}))
    if sample:
        (path / "samples").mkdir()
        plt.imsave(path / "samples" / f"epoch_{epochs:04d}.png", np.random.default_rng(0).random((20, 20)))
    return path


@pytest.fixture
def three_runs(tmp_path):
    """bce/lsgan/hinge: lsgan best in energy_distance (lower is better), hinge best in
    high_quality (higher), bce and hinge tied in modes_captured."""
    finals = {
        "bce": {"energy_distance": 0.30, "high_quality": 0.40, "modes_captured": 8},
        "lsgan": {"energy_distance": 0.10, "high_quality": 0.20, "modes_captured": 6},
        "hinge": {"energy_distance": 0.20, "high_quality": 0.90, "modes_captured": 8},
    }
    root = tmp_path / "sweep"
    for name, final in finals.items():
        _make_run(root / f"name-{name}", [f"objective.name={name}"], final,
                  {"energy_distance": [1.0, 0.5, final["energy_distance"]],
                   "energy_distance_std": [0.1, 0.05, 0.02],
                   "high_quality": [0.0, 0.1, final["high_quality"]]})
    return root


def test_table_marks_best_per_direction_and_csv_reads_back(three_runs, tmp_path):
    written = gankit.compare([three_runs], out=tmp_path / "cmp", log=None)
    out = tmp_path / "cmp"
    assert written[-1] == out / "index.html"

    rows = list(csv.DictReader(io.StringIO((out / "final_metrics.csv").read_text())))
    by_name = {row["objective"]: row for row in rows}
    assert set(by_name) == {"bce", "hinge", "lsgan"}
    assert float(by_name["lsgan"]["energy_distance"]) == pytest.approx(0.10)
    assert int(by_name["bce"]["modes_captured"]) == 8 and by_name["bce"]["epochs"] == "3"
    assert by_name["lsgan"]["best_in"].split(";") == ["energy_distance"]
    assert set(by_name["hinge"]["best_in"].split(";")) == {"high_quality", "modes_captured"}
    assert by_name["bce"]["best_in"] == "modes_captured"  # a tie marks both
    assert rows[0]["run"] == "name-bce" and next(iter(rows[0])) == "objective"  # varied settings come first

    markdown = (out / "final_metrics.md").read_text()
    lines = {line.split("|")[1].strip(): line for line in markdown.splitlines()[2:]}
    assert "**0.1**" in lines["lsgan"] and "**0.1**" not in lines["bce"]
    assert "**0.9**" in lines["hinge"] and "0.4" in lines["bce"] and "**0.4**" not in lines["bce"]
    assert "energy_distance ↓" in markdown and "high_quality ↑" in markdown

    page = (out / "final_metrics.html").read_text()
    hinge_row = next(row for row in page.split("<tr>") if "name-hinge" in row)
    assert '<b class="best">0.9</b>' in hinge_row and '<b class="best">0.2 ' not in hinge_row


def test_figures_have_one_curve_per_run_labelled_by_varied_values(three_runs, tmp_path, monkeypatch):
    legends: dict[str, list[str]] = {}
    save = compare_plots.save_figure

    def spy(fig, path):
        texts = [t.get_text() for legend in fig.legends for t in legend.get_texts()]
        texts += [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]
        legends[Path(path).name] = texts
        return save(fig, path)

    monkeypatch.setattr(compare_plots, "save_figure", spy)
    gankit.compare(three_runs, out=tmp_path / "cmp", log=None)
    out = tmp_path / "cmp"
    expected = ["objective=bce", "objective=hinge", "objective=lsgan"]  # folder order (no sweep.json here)
    for name in ("metrics.png", "energy_distance.png", "high_quality.png", "losses.png"):
        assert legends[name] == expected, name
    for name in ("metrics.png", "losses.png", "samples.png", "metrics/energy_distance.png",
                 "metrics/high_quality.png"):
        assert (out / name).stat().st_size > 5000, name
    page = (out / "index.html").read_text()
    images = re.findall(r'<img src="([^"]+)"', page)
    assert {"metrics.png", "losses.png", "samples.png", "metrics/energy_distance.png"} <= set(images)
    assert all((out / image).is_file() for image in images) and "http" not in page


def test_metrics_option_limits_combined_figure_and_table(three_runs, tmp_path):
    written = gankit.compare(three_runs, out=tmp_path / "cmp", metrics="high_quality", log=None)
    header = (tmp_path / "cmp" / "final_metrics.csv").read_text().splitlines()[0].split(",")
    assert "high_quality" in header and "energy_distance" not in header
    assert tmp_path / "cmp" / "metrics" / "energy_distance.png" in written  # per-metric files: all
    with pytest.raises(GankitError, match="s1.*not logged"):
        gankit.compare(three_runs, out=tmp_path / "cmp2", metrics="s1,high_quality", log=None)


def test_labels_use_full_keys_where_last_components_collide(tmp_path):
    a = _make_run(tmp_path / "a", ["train.seed=1", "data.seed=1", "train.epochs=3"], {"high_quality": 0.5}, {})
    b = _make_run(tmp_path / "b", ["train.seed=2", "data.seed=1", "train.epochs=5"], {"high_quality": 0.6}, {})
    c = _make_run(tmp_path / "c", ["train.seed=2", "data.seed=2", "train.epochs=5"], {"high_quality": 0.7}, {},
                  sample=False)
    from gankit.experiments.runs import load_runs

    runs, _ = load_runs([a, b, c])
    assert [r.label for r in runs] == ["data.seed=1, epochs=3, train.seed=1", "data.seed=1, epochs=5, train.seed=2",
                                       "data.seed=2, epochs=5, train.seed=2"]
    gankit.compare([a, b, c], out=tmp_path / "cmp", log=None)
    header = (tmp_path / "cmp" / "final_metrics.csv").read_text().splitlines()[0].split(",")
    # train.epochs keeps its full key: "epochs" is the column of epochs trained.
    assert header[:4] == ["data.seed", "train.epochs", "train.seed", "epochs"]


def test_errors_a_user_can_cause(three_runs, tmp_path):
    with pytest.raises(GankitError, match="nothing to compare"):
        gankit.compare([], out=tmp_path / "x", log=None)
    with pytest.raises(GankitError, match="does not exist"):
        gankit.compare([tmp_path / "missing"], out=tmp_path / "x", log=None)
    (tmp_path / "empty").mkdir()
    with pytest.raises(GankitError, match="holds none"):
        gankit.compare([tmp_path / "empty"], out=tmp_path / "x", log=None)
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(GankitError, match="not a run folder"):
        gankit.compare([tmp_path / "notes.txt"], out=tmp_path / "x", log=None)
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "config.toml").write_text(load_config("toy-ring8").to_toml())
    with pytest.raises(GankitError, match="no run to compare has metrics"):
        gankit.compare([fresh], out=tmp_path / "x", log=None)
    warnings: list[str] = []
    gankit.compare([three_runs, fresh], out=tmp_path / "x", log=warnings.append)
    assert len(warnings) == 1 and "fresh" in warnings[0]


def test_grey_sample_grids_stay_grey(tmp_path):
    from PIL import Image

    from gankit.report.compare_plots import samples_figure

    gradient = np.tile(np.arange(0, 256, 4, dtype=np.uint8), (64, 1))
    Image.fromarray(gradient, mode="L").save(tmp_path / "grid.png")
    out = samples_figure([("name=bce", tmp_path / "grid.png"), ("name=lsgan", None)], tmp_path / "samples.png")
    pixels = np.asarray(Image.open(out).convert("RGB")).astype(int)
    assert np.abs(pixels[..., 0] - pixels[..., 1]).max() <= 2 and np.abs(pixels[..., 1] - pixels[..., 2]).max() <= 2
    assert pixels.std() > 20  # the gradient is there, not a blank panel
