"""The image-classifier workbench (the cats-vs-dogs study): k-fold cross-validation of classifiers on a
labelled image folder or the bundled MNIST sample, with the cats-vs-dogs study's callbacks and a results grid.

```python
from gankit.classify import cross_validate

result = cross_validate("mnist", "runs/classify", models=["perceptron", "cnn"], epochs=[10], batch_sizes=[64])
result.cell("cnn", 10, 64).mean       # mean validation accuracy over the folds
```

The command line twin is ``gankit classify DATA --models ... --out DIR``. A fold's
``best.pt`` is a GAN evaluator for that dataset: ``eval.features=PATH``.
"""

from gankit.classify.callbacks import Callbacks, EarlyStopping, ModelCheckpoint, ReduceLROnPlateau
from gankit.classify.crossval import ClassifyConfig, GridResult, cross_validate
from gankit.classify.data import LabelledImages, load_labelled_images, stratified_folds
from gankit.classify.evaluator import load_classifier
from gankit.classify.models import MODEL_NAMES, build_model
from gankit.classify.results import CellResult

__all__ = [
    "MODEL_NAMES", "Callbacks", "CellResult", "ClassifyConfig", "EarlyStopping", "GridResult", "LabelledImages",
    "ModelCheckpoint", "ReduceLROnPlateau", "build_model", "cross_validate", "load_classifier",
    "load_labelled_images", "stratified_folds",
]
