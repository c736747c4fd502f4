"""Loading a user's point set from .csv / .npy, and the errors for bad files."""

import numpy as np
import pytest
import torch

from gankit.data.points import load_points
from gankit.errors import DataError, GankitError


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_without_header(tmp_path):
    data = load_points(write(tmp_path, "p.csv", "1,2\n3.5,-4e-1\n\n5,6\n"))
    assert data.tensor.dtype == torch.float32
    assert np.allclose(data.tensor.numpy(), [[1, 2], [3.5, -0.4], [5, 6]])
    assert data.geometry is None and data.name == "points" and data.kind == "points"
    assert data.sample_shape == (2,)


def test_csv_with_header_and_name(tmp_path):
    data = load_points(write(tmp_path, "p.csv", "x, y\n1, 2\n3, 4\n"), name="mine")
    assert data.name == "mine"
    assert data.tensor.tolist() == [[1.0, 2.0], [3.0, 4.0]]


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_csv_other_delimiters(tmp_path, delimiter):
    text = f"a{delimiter}b{delimiter}c\n1{delimiter}2{delimiter}3\n4{delimiter}5{delimiter}6\n"
    data = load_points(write(tmp_path, "p.csv", text))
    assert data.tensor.tolist() == [[1, 2, 3], [4, 5, 6]]


def test_csv_single_column_and_bom(tmp_path):
    path = tmp_path / "one.CSV"
    path.write_bytes("\ufeffvalue\n1\n2\n3\n".encode("utf-8"))
    assert load_points(path).tensor.shape == (3, 1)


def test_csv_many_columns(tmp_path):
    rows = np.arange(50, dtype=np.float64).reshape(5, 10)
    text = "\n".join(",".join(str(v) for v in row) for row in rows)
    assert np.array_equal(load_points(write(tmp_path, "p.csv", text)).tensor.numpy(), rows)


def test_npy_2d_and_1d(tmp_path):
    array = np.random.default_rng(0).normal(size=(20, 3))
    np.save(tmp_path / "a.npy", array)
    loaded = load_points(tmp_path / "a.npy")
    assert loaded.tensor.dtype == torch.float32 and loaded.tensor.shape == (20, 3)
    assert np.allclose(loaded.tensor.numpy(), array, atol=1e-6)
    np.save(tmp_path / "b.npy", np.arange(4, dtype=np.int64))
    assert load_points(tmp_path / "b.npy").tensor.tolist() == [[0], [1], [2], [3]]


def expect_error(path, *fragments):
    with pytest.raises(DataError) as caught:
        load_points(path)
    message = str(caught.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message, message
    assert isinstance(caught.value, GankitError)


def test_missing_file(tmp_path):
    expect_error(tmp_path / "nope.csv", "not found")


def test_directory(tmp_path):
    (tmp_path / "dir.csv").mkdir()
    expect_error(tmp_path / "dir.csv", "not a file")


def test_unsupported_extension(tmp_path):
    expect_error(write(tmp_path, "p.txt", "1,2\n"), "unsupported extension", ".txt", ".csv", ".npy")


def test_empty_csv(tmp_path):
    expect_error(write(tmp_path, "p.csv", ""), "empty")
    expect_error(write(tmp_path, "q.csv", "\n  \n"), "empty")


def test_header_only(tmp_path):
    expect_error(write(tmp_path, "p.csv", "x,y\n"), "only a header", "no data rows")


def test_non_numeric_cell(tmp_path):
    expect_error(write(tmp_path, "p.csv", "x,y\n1,2\n3,abc\n"), "line 3, column 2", "'abc'", "not a number")


def test_empty_cell(tmp_path):
    expect_error(write(tmp_path, "p.csv", "1,2\n,4\n"), "line 2, column 1", "empty cell")


@pytest.mark.parametrize("bad", ["nan", "inf", "-Infinity"])
def test_nan_and_inf_cells(tmp_path, bad):
    expect_error(write(tmp_path, "p.csv", f"1,2\n3,4\n5,{bad}\n"), "line 3, column 2", "NaN or infinite")


def test_ragged_rows(tmp_path):
    expect_error(write(tmp_path, "p.csv", "1,2\n3,4\n5,6,7\n"), "line 3 has 3 columns, expected 2")
    expect_error(write(tmp_path, "q.csv", "a,b,c\n1,2\n"), "line 2 has 2 columns, expected 3", "header")


def test_not_utf8(tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes(b"\xff\xfe\x00\x81garbage")
    expect_error(path, "not a UTF-8 text file")


def test_npy_object_dtype(tmp_path):
    path = tmp_path / "o.npy"
    np.save(path, np.array([[1, "a"], [2, None]], dtype=object), allow_pickle=True)
    expect_error(path, "object-dtype")


def test_npy_string_dtype(tmp_path):
    path = tmp_path / "s.npy"
    np.save(path, np.array([["1", "2"]]))
    expect_error(path, "not numeric")


def test_npy_too_many_dims(tmp_path):
    path = tmp_path / "d.npy"
    np.save(path, np.zeros((2, 3, 4)))
    expect_error(path, "3 dimensions", "(2, 3, 4)")


def test_npy_empty(tmp_path):
    path = tmp_path / "e.npy"
    np.save(path, np.zeros((0, 2)))
    expect_error(path, "empty")


def test_npy_nan_position(tmp_path):
    array = np.zeros((5, 3))
    array[3, 1] = np.inf
    array[4, 0] = np.nan
    path = tmp_path / "n.npy"
    np.save(path, array)
    expect_error(path, "index [3, 1]", "row 4, column 2", "NaN or infinite")


def test_npy_corrupt(tmp_path):
    path = tmp_path / "c.npy"
    path.write_bytes(b"this is not numpy")
    expect_error(path, "cannot read as .npy")
    truncated = tmp_path / "t.npy"
    np.save(truncated, np.zeros((100, 2)))
    truncated.write_bytes(truncated.read_bytes()[:200])
    expect_error(truncated, "cannot read as .npy")
