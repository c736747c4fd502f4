"""Collapse that class counts cannot see, and memorisation: diversity against its closed forms,
per-class recall/coverage against the k-NN definition, the spread and memorisation rules on
scripted records and on recorded runs, the Scorer's memorisation of exact copies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from gankit.catalogue import LIST_KEYS, PER_CLASS_KEYS, per_class_names
from gankit.metrics.conditional import conditional_scores, recall_coverage_per_class
from gankit.metrics.diversity import diversity, diversity_per_class, mean_pairwise_distance
from gankit.metrics.knn import reference_prdc
from gankit.training.diagnostics import MEMORISATION_SHARE, diagnose, memorisation, mode_collapse
from gankit.training.spread_rules import (
    COVERAGE_FLOOR, DIVERSITY_FLOOR, PRECISION_GATE, RECALL_FLOOR, spread_warmup,
)

FIXTURES = Path(__file__).parent / "fixtures"


def _points(n: int, d: int = 6, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


# ------------------------------------------------------------------ diversity
def test_mean_pairwise_distance_is_the_mean_over_distinct_pairs():
    x = _points(9)
    brute = [float((x[i] - x[j]).norm()) for i in range(9) for j in range(9) if i != j]
    assert mean_pairwise_distance(x) == pytest.approx(sum(brute) / len(brute), rel=1e-12)
    assert mean_pairwise_distance(torch.tensor([[0.0], [3.0]])) == pytest.approx(3.0)
    with pytest.raises(ValueError):
        mean_pairwise_distance(x[:1])


def test_diversity_closed_forms():
    real = _points(50)
    assert diversity(real, real) == pytest.approx(1.0)  # samples = real
    assert diversity(real, real[3:4].repeat(40, 1)) == 0.0  # one image for every latent
    assert diversity(real, 2.5 * real + 7.0) == pytest.approx(2.5)  # distances scale, shifts cancel
    assert diversity(real, real[:1]) is None and diversity(real[:1].repeat(5, 1), real) is None


def test_diversity_per_class_is_the_ratio_within_each_class():
    real, labels = _points(60), torch.arange(60) % 3
    fake = real.clone()
    fake[labels == 1] = real[labels == 1][0]  # class 1 collapsed to one sample
    values = diversity_per_class(real, labels, fake, labels, 4)  # class 3 has no samples
    assert values[0] == pytest.approx(1.0) and values[1] == 0.0 and values[2] == pytest.approx(1.0)
    assert values[3] is None


# ------------------------------------------------------------------ per-class recall / coverage
def test_per_class_recall_and_coverage_match_the_definition_class_by_class():
    real, real_labels = _points(90, seed=1), torch.arange(90) % 3
    fake, fake_labels = _points(75, seed=2) * 0.7, torch.arange(75) % 3
    fake[fake_labels == 2] = fake[fake_labels == 2][:1] + 0.01 * _points(25, seed=3)  # one tight blob
    recalls, coverages = recall_coverage_per_class(real, real_labels, fake, fake_labels, 3, k=3)
    for c in range(3):
        expected = reference_prdc(real[real_labels == c], fake[fake_labels == c], k=3)
        assert recalls[c] == pytest.approx(expected["recall"]) and coverages[c] == pytest.approx(expected["coverage"])
    assert recalls[2] < recalls[0] and recalls[2] < 0.2  # the blob recalls few real samples of its class
    few = recall_coverage_per_class(real, real_labels, fake[:6], fake_labels[:6], 3, k=3)  # 2 fakes per class
    assert few == ([None] * 3, [None] * 3)


def test_conditional_scores_log_per_class_lists_in_class_order():
    real, labels = _points(60), torch.arange(60) % 3
    scores = conditional_scores(real, labels, real.clone(), torch.zeros(60, 0), labels, ["a", "b", "c"], [], k=3)
    for key in ("recall_per_class", "coverage_per_class", "diversity_per_class"):
        assert key in PER_CLASS_KEYS and key in LIST_KEYS and len(scores[key]) == 3
    assert scores["recall_per_class"] == [1.0] * 3 and scores["diversity"] == pytest.approx(1.0)
    assert per_class_names(scores) == ["a", "b", "c"]
    assert per_class_names({"recall_per_class": [0.5, 0.4]}) == ["0", "1"]


# ------------------------------------------------------------------ spread rules on scripted records
def _image_records(**series):
    """Evaluation records of an image run (a ``features`` key), one per evaluation, epochs 10, 20, ..."""
    length = len(next(iter(series.values())))
    records = []
    for index in range(length):
        record = {"epoch": 10 * (index + 1), "step": 100 * (index + 1), "features": "evaluator"}
        record.update({key: values[index] for key, values in series.items() if values[index] is not None})
        records.append(record)
    return records


def test_recall_floor_fires_with_all_classes_covered_after_the_warm_up():
    records = _image_records(classes_covered=[10] * 3, num_classes=[10] * 3, class_entropy=[2.3] * 3,
                             recall=[0.005, 0.015, 0.002], coverage=[0.2, 0.2, 0.2], precision=[0.5, 0.6, 0.5])
    found = mode_collapse(records, warmup_epochs=3, epochs=30)
    assert found is not None and found.since_epoch == 10
    assert f"recall 0.002 is below {RECALL_FLOOR:g} at precision 0.50" in found.message
    # samples that are not yet realistic are poor, not collapsed: the floors wait for precision
    poor = [{**r, "precision": PRECISION_GATE - 0.06} for r in records]
    assert mode_collapse(poor, warmup_epochs=3, epochs=30) is None
    # the same numbers inside a longer run's warm-up (a quarter of 100 epochs): not yet judged
    assert spread_warmup(100) == 25 and mode_collapse(records, warmup_epochs=10, epochs=100) is None


def test_healthy_spread_stays_quiet_and_a_fall_to_half_fires():
    healthy = _image_records(recall=[0.19, 0.38, 0.62, 0.72], coverage=[0.09, 0.09, 0.12, 0.13],
                             diversity=[0.8, 0.9, 0.95, 0.97])
    assert mode_collapse(healthy, epochs=40) is None
    fallen = _image_records(recall=[0.6, 0.7, 0.3, 0.2], coverage=[0.2, 0.2, 0.2, 0.2])
    found = mode_collapse(fallen, epochs=40)
    assert found.since_epoch == 30 and "recall fell from 0.7 to 0.2" in found.message
    low_coverage = _image_records(recall=[0.5] * 3, coverage=[0.1, COVERAGE_FLOOR / 2, COVERAGE_FLOOR / 3],
                                  precision=[PRECISION_GATE] * 3)
    assert mode_collapse(low_coverage, epochs=30).since_epoch == 20


def test_per_class_recall_floor_names_the_classes():
    per_class = [[0.6, 0.5, 0.7], [0.6, 0.01, 0.02], [0.6, 0.02, 0.01]]
    records = _image_records(recall=[0.6] * 3, coverage=[0.5] * 3, recall_per_class=per_class,
                             intra_fid_classes=[["cat", "dog", "owl"]] * 3)
    found = mode_collapse(records, epochs=30)
    assert found.since_epoch == 20 and "classes dog, owl (of 3)" in found.message


def test_diversity_floor_fires_past_the_warm_up():
    narrow = _image_records(recall=[0.5] * 3, coverage=[0.5] * 3, diversity=[0.2, 0.3, 0.3],
                            diversity_per_class=[[0.2, 0.9]] * 3)
    found = mode_collapse(narrow, epochs=30)
    assert found.since_epoch == 10 and "diversity 0.30" in found.message and "class 0 (of 2)" in found.message
    assert mode_collapse(_image_records(recall=[0.5] * 3, diversity=[DIVERSITY_FLOOR + 0.01] * 3), epochs=30) is None


def test_point_runs_keep_their_rules():
    # a 2D run's recall (no features key) only counts as a fall to half, never against the image floors
    points = [{"epoch": e, "step": e, "recall": 0.01, "coverage": 0.01} for e in (10, 20, 30)]
    assert mode_collapse(points, epochs=30) is None


# ------------------------------------------------------------------ memorisation rule
def test_memorisation_fires_past_the_warm_up_with_its_onset():
    records = _image_records(memorisation=[0.0, 0.5, 0.8, 0.9], memorisation_std=[0.0, 0.02, 0.01, 0.01])
    found = memorisation(records, epochs=40)
    assert found.kind == "memorisation" and found.since_epoch == 20 and "90.0% ± 1.0%" in found.message
    assert memorisation(records[:2], epochs=40) is None  # one evaluation over: not yet
    quiet = _image_records(memorisation=[0.0, MEMORISATION_SHARE, 0.02])
    assert memorisation(quiet, epochs=30) is None
    assert memorisation(_image_records(memorisation=[0.9, 0.9, 0.9]), epochs=120) is None  # all in the warm-up
    assert [d.kind for d in diagnose(records, epochs=40)] == ["memorisation"]


# ------------------------------------------------------------------ recorded runs
# tests/fixtures/*.jsonl: the metrics.jsonl of two real runs (their "warnings" and "diagnostics"
# lists removed: the tests recompute the findings), one thread, seed 0:
#   colour_mnist_conditional_collapse.jsonl: gankit evaluator train --data colour-mnist -o cm-eval.pt, then
#     gankit train folder-rgb32 data.name=colour-mnist model.conditional=true train.epochs=30 eval.every=5
#     eval.evaluator=cm-eval.pt  (every class one digit shape: 10/10 classes, class accuracy 1.0)
#   demo_mnist_dcgan.jsonl: gankit train mnist-dcgan  (the demo, healthy: FID 14.9, recall 0.72)
#   overfit_50_images.jsonl (its evaluated epochs only): gankit train mnist-dcgan data.limit=50
#     train.batch_size=25 train.epochs=1000 eval.every=100 eval.n=500 --out runs/fifty, then
#     gankit train runs/fifty --resume train.epochs=5000  (10,000 steps on 50 digits)
def _recorded(name: str, epochs: int = 30) -> tuple[list[dict], int]:
    lines = (FIXTURES / name).read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    return records, epochs


def test_the_recorded_one_shape_per_class_colour_run_is_flagged():
    records, epochs = _recorded("colour_mnist_conditional_collapse.jsonl")
    found = {d.kind: d for d in diagnose(records, epochs=epochs)}
    assert "mode_collapse" in found, records[-1]
    collapse = found["mode_collapse"]
    assert collapse.since_epoch == 10 and "recall below 0.05 in classes" in collapse.message
    # at every evaluation from epoch 10 on the run is already flagged (patience: two in a row)
    flagged = [r["epoch"] for i, r in enumerate(records) if r.get("recall") is not None and any(
        d.kind == "mode_collapse" for d in diagnose(records[: i + 1], epochs=epochs))]
    assert flagged == [15, 20, 25, 30]


def test_the_recorded_generator_overfitted_to_50_images_is_flagged():
    records, epochs = _recorded("overfit_50_images.jsonl", epochs=5000)
    found = {d.kind: d for d in diagnose(records, epochs=epochs)}
    assert found["memorisation"].since_epoch == 3600 and "38.0% ± 1.2%" in found["memorisation"].message
    assert memorisation(records[:35], epochs=epochs) is None  # up to epoch 3500: at most 8.8% copies


def test_the_recorded_healthy_demo_run_is_not_flagged():
    records, epochs = _recorded("demo_mnist_dcgan.jsonl")
    kinds = [d.kind for d in diagnose(records, epochs=epochs)]
    assert "mode_collapse" not in kinds and "memorisation" not in kinds
    for prefix in range(1, len(records) + 1):  # nor at any epoch on the way
        assert "mode_collapse" not in [d.kind for d in diagnose(records[:prefix], epochs=epochs)], prefix


# ------------------------------------------------------------------ memorisation in a run's scorer
@pytest.fixture(scope="module")
def mnist_scorer():
    from gankit.config import load_config
    from gankit.data import load_dataset
    from gankit.evaluation import Scorer

    config = load_config(None, ["data.name=mnist", "data.limit=256", "eval.n=256", "eval.kid_subsets=5",
                                "eval.bootstrap=3", "train.progress=false"])
    dataset = load_dataset(config.data)
    return Scorer(dataset, config), dataset, config


def test_scorer_flags_exact_copies_of_training_images(mnist_scorer, tmp_path):
    from PIL import Image

    from gankit.training.hooks import EvaluationHook

    scorer, dataset, config = mnist_scorer
    copies = scorer.score(None, fake=dataset.tensor[torch.arange(300) % len(dataset)])
    assert copies["memorisation"] == 1.0 and copies["memorisation_std"] == 0.0
    assert copies["diversity"] == pytest.approx(1.0, abs=0.1)  # the same digits, spread as the real ones
    noise = torch.rand(300, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    assert scorer.score(None, fake=noise)["memorisation"] < MEMORISATION_SHARE
    records = _image_records(memorisation=[copies["memorisation"]] * 3)
    assert [d.kind for d in diagnose(records, epochs=30)] == ["memorisation"]
    # the picture of the closest pairs: the latest score's (the copies were scored before the noise)
    scorer.score(None, fake=dataset.tensor[:40])
    hook = EvaluationHook(dataset, config, "cpu")
    hook._scorer = scorer
    assert [ratio for _, _, ratio in scorer.closest] == [0.0] * 8
    assert all(torch.equal(g, t) for g, t, _ in scorer.closest)
    picture = Image.open(hook.save_memorisation(tmp_path / "memorisation.png"))
    assert picture.width > picture.height > 0
    assert EvaluationHook(dataset, config, "cpu").save_memorisation(tmp_path / "none.png") is None


# ------------------------------------------------------------------ the report
def _report_folder(root: Path, record: dict) -> Path:
    root.mkdir(parents=True)
    (root / "config.toml").write_text('[data]\nname = "colour-mnist"\n[train]\nepochs = 30\n', encoding="utf-8")
    base = {"epoch": 30, "step": 300, "g_loss": 1.0, "d_loss_real": 0.5, "d_loss_fake": 0.5}
    (root / "metrics.jsonl").write_text(json.dumps({**base, **record}) + "\n", encoding="utf-8")
    return root


def test_report_shows_per_class_rows_and_the_memorisation_panel(tmp_path):
    from gankit.report.html import render_report

    record = {"fid": 2.0, "features": "evaluator", "memorisation": 0.125, "memorisation_std": 0.01,
              "diversity": 0.4, "intra_fid_per_class": [1.5, 2.5], "intra_fid_classes": ["red", "teal"],
              "recall_per_class": [0.3, 0.004], "coverage_per_class": [0.4, 0.02], "diversity_per_class": [0.6, 0.2]}
    root = _report_folder(tmp_path / "new", record)
    (root / "plots").mkdir()
    from gankit.pictures.grid import save_grid

    save_grid(torch.zeros(4, 1, 8, 8), root / "plots" / "memorisation.png", nrow=2)
    page = render_report(root)
    for row in ("intra-FID ↓", "recall ↑", "coverage ↑", "diversity ↑"):
        assert f'<th scope="row">{row}</th>' in page, row
    assert "<th>teal</th>" in page and '<td class="worst">0.004</td>' in page and '<td class="worst">2.5</td>' in page
    panel = page.split('id="memorisation"')[1].split("</section>")[0]
    assert "12.5% ± 1%" in panel and "a third of that image" in panel and 'src="plots/memorisation.png' in panel
    assert 'href="#memorisation"' in page


def test_old_records_without_the_new_keys_still_render(tmp_path):
    from gankit.report.html import render_report

    page = render_report(_report_folder(tmp_path / "old", {"fid": 2.0, "features": "evaluator",
                                                           "intra_fid_per_class": [1.5, None]}))
    assert '<th scope="row">intra-FID ↓</th>' in page and "<th>1</th>" in page
    assert "recall ↑" not in page and 'id="memorisation"' not in page and 'href="#memorisation"' not in page


def test_a_run_writes_the_memorisation_picture_at_its_final_evaluation(tmp_path):
    import gankit
    from tests.test_evaluation import MNIST_TINY

    run = gankit.train(None, overrides=MNIST_TINY + ["train.epochs=1", "train.tensorboard=false"], out=tmp_path / "run")
    last = run.history[-1]
    assert 0.0 <= last["memorisation"] <= 1.0 and "memorisation_std" in last and last["diversity"] > 0
    assert (run.path / "plots" / "memorisation.png").is_file()  # drawn at the final evaluation
    page = (run.path / "report.html").read_text(encoding="utf-8")
    assert 'id="memorisation"' in page and "plots/memorisation.png" in page
