"""What a run records, in one place: every metric with which way is better, how its curve is
drawn and what it means; and the other keys of a ``metrics.jsonl`` record.

Everything that needs a metric's direction, scale or kind reads it here: ``eval.select`` and
``train.stop_at`` (config/rules.py), the best-checkpoint key (metrics/select.py), the metric
curves of a run (training/hooks.py, report/plots.py), the comparison tables and figures
(experiments/, report/compare_plots.py), the report's arrows and columns (report/html_*.py),
``Run.metrics`` (run.py), TensorBoard tags (training/tensorboard.py) and the checks of a
read-back record (files/records.py). Adding a metric is one :class:`Metric` line in
:data:`METRICS`. The module imports nothing of gankit, so every layer may read it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    """One metric a run can log.

    ``direction``: +1 when higher is better, −1 when lower is better. ``log_scale``: a
    distance that may fall over orders of magnitude (its curve may get a log axis).
    ``count``: whole numbers (integer axis ticks). ``ranked``: selectable by
    ``eval.select``/``train.stop_at``, drawn as a curve and ranked in comparisons; an
    unranked metric only gets its arrow in the report.
    """

    name: str
    direction: int
    description: str
    log_scale: bool = False
    count: bool = False
    ranked: bool = True


LOWER, HIGHER = -1, 1

# In curve order: the order of the panels of plots/metrics.png and of the comparison columns.
METRICS: tuple[Metric, ...] = (
    Metric("fid", LOWER, "Fréchet distance between Gaussian fits of real and generated features "
           "(Heusel et al. 2017)", log_scale=True),
    Metric("kid", LOWER, "kernel distance: unbiased polynomial-kernel MMD² averaged over random subsets "
           "(Bińkowski et al. 2018)", log_scale=True),
    Metric("precision", HIGHER, "share of generated samples inside some real sample's k-NN ball "
           "(Kynkäänniemi et al. 2019)"),
    Metric("recall", HIGHER, "share of real samples inside some generated sample's k-NN ball"),
    Metric("density", HIGHER, "(1/k)·mean number of real k-NN balls holding a generated sample "
           "(Naeem et al. 2020)"),
    Metric("coverage", HIGHER, "share of real samples whose nearest generated sample lies in their own ball"),
    Metric("classes_covered", HIGHER, "classes holding at least min_share/C of the generated samples "
           "(by the evaluator's argmax)", count=True),
    Metric("class_kl", LOWER, "KL(generated class histogram ‖ real or uniform histogram), nats", log_scale=True),
    Metric("modes_covered", HIGHER, "Stacked MNIST modes (of 1,000) with at least one sample", count=True),
    Metric("modes_kl", LOWER, "KL(generated Stacked MNIST mode histogram ‖ uniform), nats", log_scale=True),
    Metric("diversity", HIGHER, "mean pairwise feature distance of generated samples over that of real ones "
           "(within each class, then averaged, for conditional runs); ~1 when healthy, 0 for one repeated image; "
           "above 1 is not better, so it is not ranked", ranked=False),
    Metric("memorisation", LOWER, "share of generated samples whose nearest training image is closer than a "
           "third of that image's distance to its nearest other training image (near-copies)"),
    Metric("intra_fid", LOWER, "mean over the classes of the FID between real and generated samples of each "
           "class (conditional runs; Miyato & Koyama 2018)", log_scale=True),
    Metric("class_accuracy", HIGHER, "share of class-conditioned samples the evaluator assigns to their class "
           "(conditional runs)"),
    Metric("inception_score", HIGHER, "exp E KL(p(y|x) ‖ p(y)) of the classifier's predictions "
           "(Salimans et al. 2016)"),
    Metric("modes_captured", HIGHER, "2D mixture modes holding at least 20 high-quality samples", count=True),
    Metric("mode_entropy", HIGHER, "entropy of the high-quality samples' mode histogram, nats"),
    Metric("high_quality", HIGHER, "share of 2D samples within 3 std of their nearest mode centre"),
    Metric("curve_distance", LOWER, "mean distance of generated points to the true curve", log_scale=True),
    Metric("curve_coverage", HIGHER, "share of the curve's 100 bins with a point within eval.curve_tolerance"),
    Metric("energy_distance", LOWER, "energy distance between real and generated points (Székely & Rizzo)",
           log_scale=True),
    Metric("s1", HIGHER, "mean D(x) over real data (the lung-cell boundary-loss study's first score)"),
    Metric("s2", HIGHER, "mean 4·D(G(z))·(1 − D(G(z))) over generated samples"),
    Metric("s3", HIGHER, "mean cosine similarity of a generated sample to its nearest real sample"),
    Metric("score", HIGHER, "s1·s2·s3"),
    Metric("class_entropy", HIGHER, "entropy of the generated class histogram, nats", ranked=False),
)

# The ranked metrics: names eval.select and train.stop_at accept, the curves, the table columns.
RANKED: tuple[str, ...] = tuple(m.name for m in METRICS if m.ranked)
# +1: higher is better; −1: lower is better (ranked metrics).
DIRECTIONS: dict[str, int] = {m.name: m.direction for m in METRICS if m.ranked}
# Every metric's direction, for the arrows beside values.
ARROW_DIRECTIONS: dict[str, int] = {m.name: m.direction for m in METRICS}
LOG_SCALE_OK = frozenset(m.name for m in METRICS if m.log_scale)
COUNT_METRICS = frozenset(m.name for m in METRICS if m.count)

# What training logs per epoch (metrics.jsonl), in the report's column order; the step's
# statistics are named after training/types.py's STAT_NAMES.
TRAINING_KEYS: tuple[str, ...] = (
    "epoch", "step", "time", "epoch_seconds", "samples_per_second", "g_loss", "d_loss_real", "d_loss_fake",
    "d_real_score", "d_fake_score", "d_real_prob", "d_fake_prob", "g_grad_norm", "augment_p", "augment_r",
)
# Keys whose values are text or lists; every other value of a record is a number or null.
TEXT_KEYS = frozenset({"stopped_by", "features"})
# A conditional run's per-class values, each a list in class order (null where a class has too few samples).
PER_CLASS_KEYS: tuple[str, ...] = ("intra_fid_per_class", "recall_per_class", "coverage_per_class",
                                   "diversity_per_class")
LIST_KEYS = frozenset({"warnings", "diagnostics", "intra_fid_classes", *PER_CLASS_KEYS})
# Keys of a record (or final_metrics.json) that are not evaluation results.
BOOKKEEPING_KEYS = frozenset({*TRAINING_KEYS, "train_seconds", "stopped_by", *LIST_KEYS})
# Sample counts and sizes logged beside the metrics: shown as integers, never as metrics.
SAMPLE_COUNT_KEYS: tuple[str, ...] = ("n_real", "n_fake", "k", "kid_subset_size", "num_classes", "n_modes")


def per_class_names(record: dict) -> list[str]:
    """Column names of a record's per-class lists (``intra_fid_per_class`` and the others of
    :data:`PER_CLASS_KEYS`, all in class order): its ``intra_fid_classes`` when they match one
    to one (records written before they were logged have none), else the indices."""
    values = next((record[key] for key in PER_CLASS_KEYS if isinstance(record.get(key), list)), [])
    names = record.get("intra_fid_classes")
    if isinstance(names, list) and len(names) == len(values):
        return [str(name) for name in names]
    return [str(index) for index in range(len(values))]
