"""report.html: built from real tiny runs and from hand-made run folders, and opened in
headless Chromium (page loads with no console errors, every image decodes, the page is
not blank, nothing is fetched from a network). The browser tests skip, saying why, when
no Chromium is installed; everything else always runs."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import gankit
from gankit.cli import app
from gankit.errors import GankitError
from gankit.report.html import render_report, write_report
from gankit.report.html_parts import fmt

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
CHROMIUM_FLAGS = ["--no-sandbox", "--headless=new", "--disable-gpu", "--disable-dev-shm-usage"]


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory):
    from tests.conftest import TINY

    overrides = TINY + ["train.epochs=2", "eval.every=1", "train.sample_every=1", "sample.drs_burn_in=500"]
    return gankit.train(None, overrides=overrides, out=tmp_path_factory.mktemp("report") / "ring")


@pytest.fixture(scope="module")
def mnist_run(tmp_path_factory):
    from tests.test_evaluation import MNIST_TINY

    overrides = MNIST_TINY + ["train.epochs=1", "train.sample_every=1"]
    return gankit.train(None, overrides=overrides, out=tmp_path_factory.mktemp("report") / "mnist")


def _folder(root: Path, *, epochs: int = 10, records=(), final=None, config_extra: str = "") -> Path:
    """A hand-made run folder: config.toml, metrics.jsonl and optionally final_metrics.json."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.toml").write_text(f'{config_extra}\n[data]\nname = "ring8"\n[objective]\nname = "bce"\n'
                                      f'[model]\nfamily = "mlp"\n[train]\nepochs = {epochs}\n', encoding="utf-8")
    (root / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    if final is not None:
        (root / "final_metrics.json").write_text(json.dumps(final), encoding="utf-8")
    return root


def _epoch(epoch: int, **extra) -> dict:
    return {"epoch": epoch, "step": 8 * epoch, "time": 0.5 * epoch, "g_loss": 0.8, "d_loss_real": 0.6,
            "d_loss_fake": 0.6, **extra}


# ------------------------------------------------------------------ page content
def test_report_of_a_real_run_is_self_contained(ring_run):
    path = write_report(ring_run.path)
    page = path.read_text(encoding="utf-8")
    assert path == ring_run.path / "report.html"
    assert ring_run.path.name in page and "finished after 2 epochs" in page
    for key in ("precision", "recall", "modes_captured", "n_real = ", "n_fake = 200", "k = 5"):
        assert key in page, key
    assert 'src="samples/epoch_0002.png?v=' in page and 'src="plots/losses.png?v=' in page
    assert str(ring_run.path) + "/" not in page  # relative paths only: the folder can move
    assert "<script" not in page and "http://" not in page and "https://" not in page
    assert "[train]" in page and "Every epoch (2 records" in page
    assert not [p for p in ring_run.path.iterdir() if p.name.endswith(".tmp")]  # atomic write left nothing


def test_text_from_the_folder_is_escaped(tmp_path):
    hostile = '<script>alert("x")</script> & <b>'
    root = _folder(tmp_path / "run", config_extra=f"description = '{hostile}'",
                   records=[_epoch(1, precision=0.5, n_fake=100, warnings=[hostile],
                                   diagnostics=[{"kind": "oscillation", "since_epoch": 1, "message": hostile}])])
    page = render_report(root)
    assert "<script>" not in page and "<b>" not in page
    # the description, the config text, the metric warning and the diagnostic
    assert page.count("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;") == 4


def test_status_in_progress_finished_and_stopped(tmp_path):
    records = [_epoch(1), _epoch(2), _epoch(3, fid=40.0, n_fake=500)]
    running = render_report(_folder(tmp_path / "a", records=records))
    assert "in progress at epoch 3 of 10" in running and "Latest metrics" in running and "40" in running
    # resumed past an earlier end: the old final_metrics.json is older than the log
    resumed = render_report(_folder(tmp_path / "b", records=records, final={"epoch": 2, "fid": 50.0}))
    assert "in progress at epoch 3 of 10" in resumed
    stopped = render_report(_folder(tmp_path / "c", records=records,
                                    final={"epoch": 3, "fid": 40.0, "stopped_by": "fid<=45 reached at epoch 3"}))
    assert "stopped early: fid&lt;=45 reached at epoch 3" in stopped and "Final metrics" in stopped


def test_metric_formatting_spreads_and_counts(tmp_path):
    assert (fmt(13.924915), fmt(0.01234567), fmt(5000), fmt(None), fmt(float("nan"))) == \
        ("13.92", "0.01235", "5000", "—", "—")
    final = {"epoch": 1, "fid": 13.924915, "fid_std": 0.32623, "n_real": 5000, "n_fake": 5000, "k": 5,
             "features": "mnist", "warnings": ["FID is biased upward"]}
    page = render_report(_folder(tmp_path / "run", epochs=1, records=[{**_epoch(1), **final}], final=final))
    assert "13.92" in page and "± 0.33" in page and "n_real = 5000" in page and "features: mnist" in page
    assert "warning: FID is biased upward" in page and "fid_std" not in page.split('id="history"')[0]


def test_drs_section_only_with_drs_eval(tmp_path):
    root = _folder(tmp_path / "run", epochs=1, records=[_epoch(1, fid=30.0)], final={"epoch": 1, "fid": 30.0})
    assert 'id="drs"' not in render_report(root)
    (root / "drs_eval.json").write_text(json.dumps({
        "plain": {"fid": 30.0, "fid_std": 1.0, "n_fake": 500}, "drs": {"fid": 25.0, "fid_std": 1.2, "n_fake": 500},
        "n": 500, "seed": 7, "settings": {"drs_burn_in": 1000},
        "acceptance": {"drs_acceptance_rate": 0.25, "drs_proposed": 2000}}), encoding="utf-8")
    page = render_report(root)
    assert 'id="drs"' in page and "accepted 25.0% of 2000 proposals" in page and "n = 500" in page
    assert '<td class="num better">-5</td>' in page and "drs_burn_in = 1000" in page


def test_diagnostics_active_resolved_and_all_clear(tmp_path):
    collapse = {"kind": "mode_collapse", "since_epoch": 2, "message": "2 of 8 modes"}
    records = [_epoch(1), _epoch(2, diagnostics=[collapse]), _epoch(3, diagnostics=[collapse])]
    active = render_report(_folder(tmp_path / "a", records=records))
    assert "Mode collapse" in active and "since epoch 2" in active and "2 of 8 modes" in active
    recovered = render_report(_folder(tmp_path / "b", records=records + [_epoch(4)]))
    assert "No problems detected at epoch 4" in recovered and "epochs 2–3" in recovered
    finished = render_report(_folder(tmp_path / "c", epochs=4, records=records + [_epoch(4)],
                                     final={"epoch": 4, "diagnostics": [{**collapse, "since_epoch": 4}]}))
    assert "active at epoch 4" in finished and "since epoch 4" in finished
    old_run = render_report(_folder(tmp_path / "d", epochs=1, records=[_epoch(1)], final={"epoch": 1}))
    assert "No diagnostics recorded" in old_run


def test_missing_and_damaged_files(tmp_path):
    root = _folder(tmp_path / "run", records=[_epoch(1)])
    with open(root / "metrics.jsonl", "a", encoding="utf-8") as handle:
        handle.write('{"epoch": 2, "g_lo')  # torn last line: the trainer is mid-write
    (root / "skipped_files.txt").write_text("# header\nbad.png\tnot an image\n", encoding="utf-8")
    page = render_report(root)
    for text in ("No evaluation yet", "No plots yet", "No samples yet", "in progress at epoch 1 of 10",
                 "1 unusable data files were skipped"):
        assert text in page, text
    (root / "config.toml").write_text("not = [toml", encoding="utf-8")
    assert "in progress at epoch 1 of ?" in render_report(root)
    with pytest.raises(GankitError, match="not a run folder"):
        write_report(tmp_path / "empty")


def test_cli_report_and_drs_eval_refresh(ring_run):
    result = CliRunner().invoke(app, ["report", str(ring_run.path)])
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("report.html")
    metrics = ring_run.evaluate(n=200, drs=True)
    saved = json.loads((ring_run.path / "drs_eval.json").read_text(encoding="utf-8"))
    assert saved["n"] == 200 and saved["plain"]["precision"] == metrics["precision"]
    assert saved["drs"]["precision"] == metrics["drs_precision"] and "drs_burn_in" in saved["settings"]
    assert 0 < saved["acceptance"]["drs_acceptance_rate"] <= 1
    assert 'id="drs"' in (ring_run.path / "report.html").read_text(encoding="utf-8")
    assert ring_run.report() == ring_run.path / "report.html"


# ------------------------------------------------------------------ in the browser
def _find_chromium() -> str | None:
    configured = os.environ.get("GANKIT_CHROMIUM")
    if configured:
        return configured if Path(configured).is_file() else shutil.which(configured)
    return next((found for found in map(shutil.which, CHROMIUM_NAMES) if found), None)


@pytest.fixture(scope="module")
def browser():
    executable = _find_chromium()
    if executable is None:
        pytest.skip("no Chromium found (install Debian's chromium package, or set GANKIT_CHROMIUM to a "
                    "Chromium/Chrome binary); the report was not checked in a browser")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed (pip install -e '.[dev]')")
    with sync_api.sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS, timeout=60_000)
        yield chromium
        chromium.close()


@pytest.mark.parametrize("run_name", ["ring_run", "mnist_run"])
def test_report_in_headless_chromium(browser, run_name, request, tmp_path):
    from PIL import Image, ImageStat

    run = request.getfixturevalue(run_name)
    write_report(run.path)
    moved = Path(shutil.copytree(run.path, tmp_path / "moved", ignore=shutil.ignore_patterns("checkpoints")))
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    problems, requested = [], []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("requestfailed", lambda req: problems.append(f"failed: {req.url}"))
    page.on("request", lambda req: requested.append(req.url))
    response = page.goto((moved / "report.html").as_uri(), wait_until="load")
    assert response is None or response.ok
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    page.wait_for_function("Array.from(document.images).every(i => i.complete)", timeout=15_000)
    images = page.evaluate("Array.from(document.images).map(i => [i.getAttribute('src'), i.naturalWidth])")
    screenshot = tmp_path / "report.png"
    page.screenshot(path=str(screenshot), full_page=True)
    page.close()

    assert not problems, problems
    assert all(url.startswith(("file://", "data:")) for url in requested), requested
    samples = sorted((moved / "samples").glob("epoch_*.png"))
    assert len(images) == len(samples) + 1 + len(list((moved / "plots").glob("*.png"))) >= 3
    assert all(width > 0 for _, width in images), images
    shot = Image.open(screenshot).convert("L")
    assert shot.width == 1200 and shot.height > 900
    stats = ImageStat.Stat(shot)
    low, high = shot.getextrema()
    assert stats.stddev[0] > 10 and high - low > 100  # text, tables and pictures, not one colour
