"""The feature-space check: each degradation does what it says, verdicts follow from the
numbers, the shipped evaluator sees most defects on MNIST, the table survives JSON, the CLI
writes and refuses as it should, the cache hits, misses and rebuilds, the report shows it."""

from __future__ import annotations

import json
import math
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from fault_tools import main_in_process
from gankit.classify import degrade
from gankit.classify.evaluator import load_evaluator, shipped_evaluator_path
from gankit.classify.sanity import MIN_PART, check_feature_space, require_same_shape, split_parts
from gankit.classify.sanity_cache import cached_check
from gankit.classify.sanity_table import EXPECTED, METRICS, SanityTable, holds, moved
from gankit.data.base import Dataset
from gankit.data.mnist import load_mnist
from gankit.errors import DataError
from gankit.metrics.fid import fid_with_spread
from gankit.metrics.knn import prdc
from gankit.report.html import render_report


@pytest.fixture(scope="module")
def mnist():
    """The bundled sample in a fixed shuffled order (it is stored sorted by class)."""
    digits = load_mnist()
    order = torch.randperm(len(digits), generator=torch.Generator().manual_seed(0))
    return Dataset(digits.name, digits.tensor[order], None, digits.labels[order], "images", digits.class_names)


def _small(dataset: Dataset, count: int) -> Dataset:
    return Dataset(dataset.name, dataset.tensor[:count], None, dataset.labels[:count], "images",
                   dataset.class_names)


def _high_frequency_energy(images: torch.Tensor) -> float:
    """Mean squared discrete Laplacian: the energy in the finest detail."""
    laplacian = torch.tensor([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]]).view(1, 1, 3, 3)
    flat = images.reshape(-1, 1, *images.shape[2:])
    return float(F.conv2d(flat, laplacian).pow(2).mean())


# ------------------------------------------------------------------ degradations
def test_blur_of_an_impulse_is_the_normalised_gaussian_and_severities_lower_detail(mnist):
    impulse = torch.zeros(1, 1, 21, 21)
    impulse[0, 0, 10, 10] = 1.0
    sigma = 1.5
    offsets = torch.arange(-10, 11, dtype=torch.float64)
    weights = torch.exp(-0.5 * (offsets / sigma) ** 2)
    weights = weights[(offsets.abs() <= math.ceil(3 * sigma))]
    weights /= weights.sum()
    expected = torch.zeros(21, 21, dtype=torch.float64)
    radius = math.ceil(3 * sigma)
    expected[10 - radius:11 + radius, 10 - radius:11 + radius] = torch.outer(weights, weights)
    assert torch.allclose(degrade.gaussian_blur(impulse, sigma)[0, 0].double(), expected, atol=1e-6)
    flat = torch.full((2, 3, 8, 8), 0.3)
    assert torch.allclose(degrade.gaussian_blur(flat, 1.0), flat, atol=1e-6)  # a flat image stays flat
    digits = mnist.tensor[:64]
    energies = [_high_frequency_energy(degrade.gaussian_blur(digits, s)) for s in (0.0, 0.5, 1.0, 2.0)]
    assert energies == sorted(energies, reverse=True) and energies[-1] < 0.2 * energies[0]


def test_noise_has_the_asked_spread_and_is_seeded():
    grey = torch.zeros(4, 1, 32, 32)
    noisy = degrade.add_noise(grey, 0.1, torch.Generator().manual_seed(0))
    assert abs(float(noisy.std()) - 0.1) < 0.005 and noisy.abs().max() <= 1
    assert torch.equal(noisy, degrade.add_noise(grey, 0.1, torch.Generator().manual_seed(0)))
    spreads = [float((degrade.add_noise(grey, s, torch.Generator().manual_seed(1)) - grey).std())
               for s in (0.1, 0.2, 0.4)]
    assert spreads == sorted(spreads)


def test_hue_rotation_by_120_degrees_cycles_the_channels_and_keeps_greys():
    assert torch.allclose(degrade.hue_rotation(120.0) @ torch.tensor([1.0, 0, 0], dtype=torch.float64),
                          torch.tensor([0.0, 1, 0], dtype=torch.float64), atol=1e-12)
    pixels = torch.tensor([1.0, -1.0, -1.0]).view(1, 3, 1, 1).expand(1, 3, 2, 2)  # pure red
    assert torch.allclose(degrade.colour_shift(pixels, 120 / 180)[0, :, 0, 0], torch.tensor([-1.0, 1.0, -1.0]),
                          atol=1e-6)
    grey = torch.full((1, 3, 2, 2), 0.2)
    assert torch.allclose(degrade.colour_shift(grey, 0.5), grey, atol=1e-6)


def test_colour_shift_moves_the_mean_colour_more_with_severity():
    from gankit.data.colour_mnist import load_colour_mnist

    colour = load_colour_mnist().tensor[:50]
    distances = [float((degrade.colour_shift(colour, a).mean(dim=(0, 2, 3)) - colour.mean(dim=(0, 2, 3))).norm())
                 for a in (0.1, 0.25, 0.5)]
    assert 0 < distances[0] < distances[1] < distances[2]
    grey = torch.linspace(-1, 1, 64).view(1, 1, 8, 8)
    means = [float(degrade.colour_shift(grey, a).mean()) for a in (0.0, 0.1, 0.25, 0.5)]
    assert means[0] == pytest.approx(float(grey.mean()), abs=1e-6) and means == sorted(means)
    with pytest.raises(DataError, match="1- or 3-channel"):
        degrade.colour_shift(torch.zeros(1, 2, 4, 4), 0.1)


def test_collapse_leaves_exactly_keep_distinct_images_per_class(mnist):
    images, labels = mnist.tensor[:400], mnist.labels[:400]
    distinct_before = None
    for share in (0.2, 0.05, 0.01):
        out = degrade.collapse(images, labels, share, torch.Generator().manual_seed(0))
        counts = []
        for label in range(10):
            members = labels == label
            keep = max(1, round(share * int(members.sum())))
            rows = {tuple(row.flatten().tolist()) for row in out[members]}
            originals = {tuple(row.flatten().tolist()) for row in images[members]}
            assert len(rows) == keep and rows <= originals  # each is one of its own class's images
            counts.append(len(rows))
        total = sum(counts)
        assert distinct_before is None or total < distinct_before
        distinct_before = total
    whole = degrade.collapse(images, None, 0.05, torch.Generator().manual_seed(0))
    assert len({tuple(row.flatten().tolist()) for row in whole}) == 20


def test_class_swap_moves_the_dropped_classes_share_to_the_kept_ones(mnist):
    images, labels = mnist.tensor[:300], mnist.labels[:300]
    pool, pool_labels = mnist.tensor[1000:2000], mnist.labels[1000:2000]
    dropped, kept = degrade.dropped_classes(labels)
    assert dropped == [5, 6, 7, 8, 9] and kept == [0, 1, 2, 3, 4]
    before = torch.isin(labels, torch.tensor(dropped)).sum()
    lost = []
    for share in (0.1, 0.25, 0.5):
        out, out_labels = degrade.swap_classes(images, labels, share, pool, pool_labels,
                                               torch.Generator().manual_seed(0))
        changed = (out != images).flatten(1).any(dim=1)
        assert int(changed.sum()) == min(round(share * 300), int(before))
        assert torch.isin(out_labels[changed], torch.tensor(kept)).all()
        for row, label in zip(out[changed], out_labels[changed]):  # a real image of its new class from the pool
            match = (pool == row).flatten(1).all(dim=1)
            assert match.any() and pool_labels[match][0] == label
        lost.append(int(before - torch.isin(out_labels, torch.tensor(dropped)).sum()))
    assert lost == sorted(lost) and lost[0] > 0


def test_copies_are_exact_copies_of_distinct_reference_images(mnist):
    heldout, reference = mnist.tensor[:200], mnist.tensor[200:400]
    for share in (0.1, 0.25, 0.5):
        out, origin = degrade.copy_reference(heldout, reference, share, torch.Generator().manual_seed(3))
        copied = origin >= 0
        assert int(copied.sum()) == round(share * 200) and len(set(origin[copied].tolist())) == int(copied.sum())
        assert torch.equal(out[copied], reference[origin[copied]])
        assert torch.equal(out[~copied], heldout[~copied])


def test_off_domain_images_and_mixing_them_in(mnist):
    fields = degrade.off_domain_images(30, 1, 28, mnist_like=True, generator=torch.Generator().manual_seed(0))
    assert fields.shape == (30, 1, 28, 28) and fields.abs().max() <= 1
    assert _high_frequency_energy(fields) < 0.1 * _high_frequency_energy(mnist.tensor[:30])  # smooth: no strokes
    tinted = degrade.off_domain_images(30, 3, 32, mnist_like=False, generator=torch.Generator().manual_seed(0))
    assert tinted.shape == (30, 3, 32, 32) and tinted.abs().max() <= 1 + 1e-6
    mixed = degrade.mix_in(mnist.tensor[:100], fields, 0.25, torch.Generator().manual_seed(0))
    assert int((mixed != mnist.tensor[:100]).flatten(1).any(dim=1).sum()) == 25


# ------------------------------------------------------------------ verdicts
def test_moved_and_holds_follow_the_noise_rule():
    assert moved("fid", 10.0, 1.0, 12.0, 0.0) == "no change"  # 2 ≤ 2·1
    assert moved("fid", 10.0, 1.0, 12.1, 0.0) == "worse"
    assert moved("fid", 10.0, 0.6, 7.0, 0.8) == "better"  # 3 > 2·1
    assert moved("precision", 0.8, 0.01, 0.7, 0.01) == "worse"  # lower precision is worse
    assert moved("memorisation", 0.0, 0.0, 0.001, 0.0) == "worse"
    assert moved("recall", 0.5, 0.0, float("nan"), 0.0) == "no change"
    assert holds("worse", "worse") and not holds("worse", "no change") and not holds("worse", "better")
    assert holds("no change", "better") and holds("no change", "no change") and not holds("no change", "worse")
    assert holds("none", "worse") is None
    assert all(set(row) == set(METRICS) for row in EXPECTED.values())


class PooledPixels:
    """A known feature space: each image's 4×4 average-pooled pixels (16 features per channel)."""

    name = "pooled-pixels"

    def __init__(self):
        self.network = nn.Sequential(nn.AdaptiveAvgPool2d(4), nn.Flatten())

    def extract(self, images, batch_size=500):
        with torch.no_grad():
            features = self.network(images.float())
        return features, torch.empty(len(images), 0)


@pytest.fixture(scope="module")
def pooled_table(mnist):
    return check_feature_space(PooledPixels(), _small(mnist, 400), n=150, seed=1, progress=False)


def test_the_table_marks_follow_from_its_numbers(pooled_table, mnist):
    table = pooled_table
    assert [(r.degradation, r.severity) for r in table.rows] == [
        (name, s) for name in ("blur", "noise", "colour shift", "collapse", "class swap", "copies")
        for s in (1, 2, 3)]
    for row in table.rows:
        for metric, cell in row.cells.items():
            base, base_std = table.baseline[metric]
            assert cell.change == pytest.approx(cell.value - base)
            assert cell.moved == moved(metric, base, base_std, cell.value, cell.std)
            assert cell.held == holds(EXPECTED[row.degradation][metric], cell.moved)
    # the baseline is FID and PRDC of the held-out against the reference features, recomputed here
    reference, heldout, _ = split_parts(_small(mnist, 400), 150, 1)
    features = PooledPixels().extract(mnist.tensor[:400])[0]
    assert table.baseline["fid"][0] == pytest.approx(fid_with_spread(features[reference], features[heldout])["fid"])
    assert table.baseline["coverage"][0] == pytest.approx(prdc(features[reference], features[heldout])["coverage"])
    # known outcomes in pixel space: brightening raises FID, copies are found as exactly their share
    colour = next(r for r in table.rows if r.degradation == "colour shift" and r.severity == 3)
    assert colour.cells["fid"].moved == "worse" and colour.cells["precision"].moved == "worse"
    for row in (r for r in table.rows if r.degradation == "copies"):
        share = (0.1, 0.25, 0.5)[row.severity - 1]
        assert row.cells["memorisation"].value >= share and row.cells["memorisation"].held
    summary = table.summary()
    cells = [c.held for r in table.rows for c in r.cells.values() if c.held is not None]
    assert summary == {"held": sum(cells), "expected": len(cells), "share": sum(cells) / len(cells)}


def test_unlabelled_data_gets_the_off_domain_row(mnist):
    unlabelled = Dataset("mnist", mnist.tensor[:200], None, None, "images")
    table = check_feature_space(PooledPixels(), unlabelled, n=100, progress=False)
    names = [r.degradation for r in table.rows]
    assert "off-domain" in names and "class swap" not in names
    assert any("smooth random fields" in note for note in table.notes)
    assert table.summary(("class swap",))["expected"] == 0


def test_the_shipped_evaluator_sees_most_defects_on_mnist(mnist):
    table = check_feature_space(load_evaluator(None), mnist, n=200, progress=False)
    assert table.summary()["share"] >= 0.75, table.to_markdown()
    blur, noise = (next(r for r in table.rows if r.degradation == d and r.severity == 3) for d in ("blur", "noise"))
    assert blur.cells["fid"].held and noise.cells["precision"].held


def test_json_round_trip_and_damaged_records(pooled_table):
    text = json.dumps(pooled_table.to_json())
    back = SanityTable.from_json(json.loads(text))
    assert back.to_json() == pooled_table.to_json() and back.to_markdown() == pooled_table.to_markdown()
    assert "| blur | 1 |" in back.to_markdown() and "expected directions held in" in back.to_markdown()
    broken = json.loads(text)
    del broken["rows"][0]["cells"]["fid"]
    with pytest.raises(DataError, match="evaluator check"):
        SanityTable.from_json(broken)
    with pytest.raises(DataError):
        SanityTable.from_json({"format": "something else"})
    with pytest.raises(DataError):
        SanityTable.from_json([1, 2])


def test_too_few_images_and_a_shape_mismatch_are_refused(mnist):
    with pytest.raises(DataError, match=f"needs at least {2 * MIN_PART}"):
        check_feature_space(PooledPixels(), _small(mnist, 2 * MIN_PART - 1), progress=False)
    from gankit.data.colour_mnist import load_colour_mnist

    with pytest.raises(DataError, match="1-channel 28×28 .* 3-channel 32×32"):
        require_same_shape(load_evaluator(None), load_colour_mnist())
    require_same_shape(load_evaluator(None), mnist)


# ------------------------------------------------------------------ command line
def test_cli_writes_markdown_and_json_and_refuses_to_replace(monkeypatch, capsys, tmp_path):
    out = tmp_path / "check.md"
    code, stdout, _ = main_in_process(monkeypatch, capsys, "evaluator", "check", "data.limit=200", "-n", "60", "-q",
                            "-o", str(out))
    assert code == 0, stdout
    assert "expected directions held in" in stdout and "blur" in stdout
    table = SanityTable.from_json(json.loads(out.with_suffix(".json").read_text()))
    assert table.n_heldout == 60 and out.read_text() == table.to_markdown()
    code, _, err = main_in_process(monkeypatch, capsys, "evaluator", "check", "data.limit=200", "-n", "60", "-q",
                         "-o", str(out))
    assert code != 0 and "--force" in err
    mine = tmp_path / "mine.md"
    mine.write_text("my notes")
    code, _, err = main_in_process(monkeypatch, capsys, "evaluator", "check", "-q", "-o", str(mine), "--force")
    assert code != 0 and "did not write" in err and mine.read_text() == "my notes"


def test_cli_errors_are_one_line_with_exit_code_2(monkeypatch, capsys, tmp_path):
    shipped = str(shipped_evaluator_path())
    code, _, err = main_in_process(monkeypatch, capsys, "evaluator", "check", shipped, "--data", "colour-mnist", "-q",
                         "-o", str(tmp_path / "a.md"))
    assert code == 2 and "1-channel 28×28" in err and "3-channel 32×32" in err and "Traceback" not in err
    code, _, err = main_in_process(monkeypatch, capsys, "evaluator", "check", "data.limit=40", "-q",
                         "-o", str(tmp_path / "b.md"))
    assert code == 2 and "40 images are too few" in err and f"at least {2 * MIN_PART}" in err
    assert len(err.strip().splitlines()) == 1


# ------------------------------------------------------------------ cache and report
def test_cache_hits_misses_and_rebuilds_a_damaged_entry(monkeypatch, tmp_path, mnist):
    import gankit.classify.sanity_cache as cache

    calls = []
    real_check = cache.check_feature_space

    def counting(*args, **kwargs):
        calls.append(1)
        return real_check(*args, **kwargs)

    monkeypatch.setattr(cache, "check_feature_space", counting)
    extractor, data = PooledPixels(), _small(mnist, 150)
    evaluator_file = tmp_path / "ev.pt"
    evaluator_file.write_bytes(b"weights v1")
    store = tmp_path / "checks"
    first = cached_check(evaluator_file, extractor, data, n=60, bootstrap=2, progress=False, cache_dir=store)
    again = cached_check(evaluator_file, extractor, data, n=60, bootstrap=2, progress=False, cache_dir=store)
    assert len(calls) == 1 and again.to_json() == first.to_json()
    cached_check(evaluator_file, extractor, data, n=70, bootstrap=2, progress=False, cache_dir=store)  # other settings
    changed = _small(mnist, 150)
    changed.tensor = changed.tensor.clone()
    changed.tensor[0, 0, 0, 0] += 0.5
    cached_check(evaluator_file, extractor, changed, n=60, bootstrap=2, progress=False, cache_dir=store)  # one pixel
    evaluator_file.write_bytes(b"weights v2")
    cached_check(evaluator_file, extractor, data, n=60, bootstrap=2, progress=False,
                 cache_dir=store)  # another evaluator
    assert len(calls) == 4 and len(list(store.glob("*.json"))) == 4
    cached_check(None, extractor, data, n=60, bootstrap=2, progress=False, cache_dir=store)  # keyed by the network
    cached_check(None, extractor, data, n=60, bootstrap=2, progress=False, cache_dir=store)
    assert len(calls) == 5
    evaluator_file.write_bytes(b"weights v1")
    entry = next(p for p in store.glob("*.json") if json.loads(p.read_text())["n_heldout"] == 60
                 and p.stat().st_mtime == min(q.stat().st_mtime for q in store.glob("*.json")))
    entry.write_text('{"format": "gankit-evaluator-check", "rows": [')
    with pytest.warns(UserWarning, match="damaged"):
        rebuilt = cached_check(evaluator_file, extractor, data, n=60, bootstrap=2, progress=False, cache_dir=store)
    assert len(calls) == 6 and rebuilt.to_json() == first.to_json()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cached_check(evaluator_file, extractor, data, n=60, bootstrap=2, progress=False, cache_dir=store)
    assert len(calls) == 6


def test_cache_lives_beside_the_folder_cache(monkeypatch, tmp_path):
    from gankit.classify.sanity_cache import default_check_dir

    monkeypatch.setenv("GANKIT_CACHE_DIR", str(tmp_path))
    assert default_check_dir() == tmp_path / "checks"


def test_report_shows_the_check_only_when_the_file_exists(tmp_path, pooled_table):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.toml").write_text('[data]\nname = "mnist"\n[train]\nepochs = 1\n', encoding="utf-8")
    (run / "metrics.jsonl").write_text("", encoding="utf-8")
    assert "Feature-space check" not in render_report(run)
    (run / "evaluator_check.json").write_text(json.dumps(pooled_table.to_json()), encoding="utf-8")
    page = render_report(run)
    assert 'id="check"' in page and 'href="#check"' in page and "✓" in page
    assert pooled_table.summary_line() in page
    (run / "evaluator_check.json").write_text(json.dumps({"format": "gankit-evaluator-check"}), encoding="utf-8")
    page = render_report(run)
    assert "Feature-space check" in page and "not a readable evaluator check" in page
