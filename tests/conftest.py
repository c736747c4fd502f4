import pytest

# A ring8 run small enough for tests: 8 steps per epoch, tiny MLPs.
TINY = [
    "data.name=ring8", "data.n_samples=512", "train.batch_size=64", "model.g_hidden=16,16",
    "model.d_hidden=16,16", "model.pack=1", "train.epochs=3", "train.sample_every=0",
    "train.checkpoint_every=1", "eval.every=0", "eval.n=200", "train.progress=false",
]


@pytest.fixture
def tiny_overrides():
    return list(TINY)
