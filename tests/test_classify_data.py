"""The workbench's data: stratified disjoint folds, class selection, folders with bad files."""

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.classify.data import LabelledImages, load_labelled_images, select_classes, stratified_folds
from gankit.errors import DataError


def test_folds_are_disjoint_cover_everything_and_keep_class_shares():
    labels = np.repeat([0, 1, 2], [50, 30, 20])  # unbalanced on purpose
    folds = stratified_folds(labels, 5, seed=3)
    assert len(folds) == 5
    validation = [set(val.tolist()) for _, val in folds]
    for i in range(5):
        for j in range(i + 1, 5):
            assert not validation[i] & validation[j]
    assert set().union(*validation) == set(range(100))
    for train, val in folds:
        assert not set(train.tolist()) & set(val.tolist())
        assert len(train) + len(val) == 100
        assert np.bincount(labels[val], minlength=3).tolist() == [10, 6, 4]  # exactly 1/5 of every class


@pytest.mark.parametrize("counts,folds", [([7, 13, 5, 9], 3), ([5, 5, 6], 5), ([101, 40], 10)])
def test_folds_split_every_class_and_fold_as_evenly_as_stratified_kfold(counts, folds):
    """The shares scikit-learn's StratifiedKFold guarantees (the oracle): per class and per
    fold, sizes differ by at most one."""
    sklearn = pytest.importorskip("sklearn.model_selection")
    labels = np.repeat(np.arange(len(counts)), counts)
    ours = stratified_folds(labels, folds, seed=0)
    theirs = list(sklearn.StratifiedKFold(folds, shuffle=True, random_state=0).split(labels, labels))
    for split in (ours, theirs):
        per_class = np.array([np.bincount(labels[val], minlength=len(counts)) for _, val in split])
        assert (per_class.max(0) - per_class.min(0) <= 1).all()
        sizes = [len(val) for _, val in split]
        assert max(sizes) - min(sizes) <= 1
    assert sorted(np.concatenate([val for _, val in ours]).tolist()) == list(range(sum(counts)))


def test_folds_are_shuffled_and_seeded():
    labels = np.repeat([0, 1], 40)
    first = stratified_folds(labels, 4, seed=0)
    again = stratified_folds(labels, 4, seed=0)
    other = stratified_folds(labels, 4, seed=1)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(first, again))
    assert not all(np.array_equal(a[1], b[1]) for a, b in zip(first, other))
    assert not np.array_equal(first[0][1], np.r_[0:10, 40:50])  # not consecutive blocks: shuffled


def test_a_class_with_fewer_images_than_folds_is_a_clear_error():
    labels = np.array([0] * 10 + [1] * 3)
    with pytest.raises(DataError, match=r"class 'dog' has 3.*lower --folds to 3"):
        stratified_folds(labels, 5, seed=0, class_names=["cat", "dog"])
    with pytest.raises(DataError, match="class 'bird' has 0"):
        stratified_folds(np.array([0] * 6 + [1] * 6), 3, seed=0, class_names=["cat", "dog", "bird"])
    with pytest.raises(DataError, match="at least 2 folds"):
        stratified_folds(labels, 1, seed=0)


def test_select_classes_relabels_in_the_given_order():
    labelled = LabelledImages(torch.arange(6.0).view(6, 1, 1, 1), torch.tensor([0, 1, 2, 0, 1, 2]), ["a", "b", "c"])
    picked = select_classes(labelled, ["c", "a"])
    assert picked.class_names == ["c", "a"]
    assert picked.labels.tolist() == [1, 0, 1, 0]
    assert picked.images.flatten().tolist() == [0.0, 2.0, 3.0, 5.0]
    with pytest.raises(DataError, match="x not among them"):
        select_classes(labelled, ["a", "x"])


def test_mnist_binary_subset_and_cap():
    labelled = load_labelled_images("mnist", classes=["3", "8"], per_class=40, seed=0)
    assert labelled.class_names == ["3", "8"] and labelled.name == "mnist"
    assert labelled.counts() == {"3": 40, "8": 40}
    assert labelled.images.shape == (80, 1, 28, 28) and -1 <= labelled.images.min() < labelled.images.max() <= 1
    resized = load_labelled_images("mnist", classes=["3", "8"], per_class=5, image_size=16, channels=3)
    assert resized.images.shape == (10, 3, 16, 16)


def _image(path, value):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((12, 12), value, dtype=np.uint8)).save(path)


def test_folder_skips_and_quarantines_bad_files(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "pets"
    for index in range(4):
        _image(root / "cat" / f"{index}.png", 20)
        _image(root / "dog" / f"{index}.png", 230)
    (root / "dog" / "broken.jpg").write_bytes(b"not an image")
    labelled = load_labelled_images(root, image_size=10, quarantine=True)
    assert labelled.class_names == ["cat", "dog"] and labelled.counts() == {"cat": 4, "dog": 4}
    assert labelled.images.shape == (8, 1, 10, 10)
    assert [name for name, _ in labelled.skipped] == ["dog/broken.jpg"]
    assert (root / "Trash" / "dog" / "broken.jpg").exists() and not (root / "dog" / "broken.jpg").exists()


def test_a_flat_folder_has_no_classes(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE_DIR", str(tmp_path / "cache"))
    for index in range(3):
        _image(tmp_path / "flat" / f"{index}.png", 100)
    with pytest.raises(DataError, match="one subfolder per class"):
        load_labelled_images(tmp_path / "flat")
