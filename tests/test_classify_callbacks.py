"""The cats-vs-dogs study's callbacks on scripted validation curves: alone, and inside the fold loop."""

import pytest
import torch

import gankit.classify.train as train_module
from gankit.classify.callbacks import Callbacks, EarlyStopping, ReduceLROnPlateau
from gankit.classify.models import build_model


def _replay(curve, callbacks, lr=1e-3):
    """Feed a validation-accuracy curve; return (epochs saved, {epoch: lr after it}, stop epoch)."""
    saved, lrs, stop = [], {}, None
    for epoch, value in enumerate(curve, 1):
        decision = callbacks.on_epoch_end(epoch, value, lr)
        if decision.save:
            saved.append(epoch)
        lr = decision.lr
        lrs[epoch] = lr
        if decision.stop:
            stop = epoch
            break
    return saved, lrs, stop


def test_plateau_after_epoch_2_reduces_at_9_and_16_and_stops_at_17():
    curve = [0.50, 0.60] + [0.60] * 30  # ties are not improvements
    saved, lrs, stop = _replay(curve, Callbacks.plateau_schedule())
    assert saved == [1, 2]
    assert stop == 17  # 15 stale epochs after the best (epoch 2)
    assert lrs[8] == pytest.approx(1e-3) and lrs[9] == pytest.approx(1e-4)  # 7 stale epochs: 3..9
    assert lrs[15] == pytest.approx(1e-4) and lrs[16] == pytest.approx(1e-5)  # 7 more: 10..16
    assert lrs[17] == pytest.approx(1e-5)


def test_an_improvement_resets_both_counters():
    curve = [0.5, 0.6, 0.55, 0.55, 0.55, 0.55, 0.55, 0.55, 0.7] + [0.65] * 20
    saved, lrs, stop = _replay(curve, Callbacks.plateau_schedule())
    assert saved == [1, 2, 9]
    assert all(lrs[e] == pytest.approx(1e-3) for e in range(1, 16))  # 6 stale epochs (3..8), never 7
    assert lrs[16] == pytest.approx(1e-4)  # 7 stale epochs after the new best at 9
    assert stop == 24


def test_patience_zero_turns_a_callback_off():
    saved, lrs, stop = _replay([0.5] * 40, Callbacks.plateau_schedule(reduce_lr_patience=0, early_stop_patience=0))
    assert saved == [1] and stop is None and set(lrs.values()) == {1e-3}


def test_single_callbacks():
    reduce = ReduceLROnPlateau(factor=0.5, patience=2, min_lr=0.2)
    assert [reduce.update(e, v, lr) for e, v, lr in [(1, 1.0, 1.0), (2, 0.9, 1.0), (3, 0.9, 1.0)]] == [1.0, 1.0, 0.5]
    assert reduce.update(4, 0.9, 0.3) == 0.3 and reduce.update(5, 0.9, 0.3) == pytest.approx(0.2)  # min_lr
    stopper = EarlyStopping(patience=3)
    assert [stopper.update(e, v) for e, v in enumerate([0.1, 0.3, 0.2, 0.2, 0.2], 1)] == [False] * 4 + [True]
    assert stopper.best_epoch == 2


def test_fold_loop_obeys_a_scripted_validation_curve(monkeypatch, tmp_path):
    """evaluate() is scripted: the loop must stop, cut the rate, checkpoint and restore as the callbacks say."""
    curve = iter([0.5, 0.8, 0.7] + [0.75] * 30)
    snapshots = {}

    def scripted_evaluate(model, images, labels, **_):
        value = next(curve)
        snapshots[len(snapshots) + 1] = {k: v.clone() for k, v in model.state_dict().items()}
        return 1.0 - value, value

    saves = []
    monkeypatch.setattr(train_module, "evaluate", scripted_evaluate)
    monkeypatch.setattr(train_module, "save_checkpoint", lambda payload, path: saves.append(payload["epoch"]))
    torch.manual_seed(0)
    model = build_model("perceptron", 1, 8, 3)
    images, labels = torch.randn(30, 1, 8, 8), torch.arange(30) % 3
    checkpoints = {10: tmp_path / "e10.pt", 40: tmp_path / "e40.pt"}
    results = train_module.fit_fold(
        model, images, labels, torch.arange(24), torch.arange(24, 30), budgets=[10, 40], batch_size=8, lr=1e-2,
        seed=0, callbacks=Callbacks.plateau_schedule(reduce_lr_patience=3, early_stop_patience=5),
        checkpoints=checkpoints, payload=lambda net, record: {"epoch": record["epoch"]})
    history = results[40].history
    assert [r["epoch"] for r in history] == list(range(1, 8))  # best at 2, 5 stale epochs: stop after 7
    assert results[40].stopped_early and results[40].epochs_run == 7
    assert results[10].epochs_run == 7 and results[10].best_epoch == 2  # early stop closes the smaller budget too
    assert saves == [1, 2]
    assert [r["lr"] for r in history] == pytest.approx([1e-2] * 5 + [1e-3] * 2)  # cut after epoch 5 (3 stale)
    assert [r["lr_reduced"] for r in history] == [False] * 4 + [True] + [False] * 2
    assert results[40].val_accuracy == 0.8
    for key, value in model.state_dict().items():  # the best epoch's weights are restored
        assert torch.equal(value, snapshots[2][key]), key
