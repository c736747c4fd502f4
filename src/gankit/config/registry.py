"""Registries of named things, and the names config accepts for them.

Objectives, datasets, model families (and DCGAN styles) and augmentations are each a
:class:`Registry`: a mapping from name to one record that holds everything gankit knows of
that thing (its functions and facts). The registries live with their records, above config
(``objectives/``, ``data/``, ``models/``, ``training/augment.py``), so config cannot import
them; what config needs of them is here, in one :class:`Names` per registry: the built-in
names, in the order ``gankit config --keys`` lists them, each with the one fact config's checks
need (a dataset's kind, whether an objective has a saturating generator loss).

A registry's ``register(record)`` adds the record's name (and fact) to its :class:`Names`, so
a thing registered at run time is at once a valid config value. The built-ins are declared
here as well, because config must know them without importing the registries;
``tests/test_catalogue.py`` checks that the declared names equal each registry's, and
registering a declared name with another fact is refused.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Generic, TypeVar

from gankit.errors import ConfigError

R = TypeVar("R")


class Names:
    """The names one config key accepts, each with one fact (or None), in listing order."""

    def __init__(self, key: str, what: str, declared: Mapping[str, Any] | Sequence[str]):
        self.key, self.what = key, what
        self._facts: dict[str, Any] = dict(declared) if isinstance(declared, Mapping) else dict.fromkeys(declared)
        self.declared: tuple[str, ...] = tuple(self._facts)  # the built-ins

    def __iter__(self) -> Iterator[str]:
        return iter(tuple(self._facts))

    def __len__(self) -> int:
        return len(self._facts)

    def __contains__(self, name: object) -> bool:
        return name in self._facts

    def __repr__(self) -> str:
        return f"Names({self.key!r}: {', '.join(self._facts)})"

    def fact(self, name: str) -> Any:
        """The fact of ``name``; None for a name that is not here."""
        return self._facts.get(name)

    def where(self, fact: Any) -> tuple[str, ...]:
        """The names whose fact is ``fact``."""
        return tuple(name for name, value in self._facts.items() if value == fact)

    def add(self, name: str, fact: Any = None) -> None:
        """Accept ``name`` from now on; a name already here must come with the same fact."""
        if name in self._facts:
            if self._facts[name] != fact:
                raise ValueError(f"{self.key}: {name!r} is declared with {self._facts[name]!r} "
                                 f"(config/registry.py) but registered with {fact!r}")
            return
        self._facts[name] = fact

    def unknown(self, name: object, choices: Sequence[str] | None = None) -> str:
        """The message for a name that is not one of ``choices`` (default: these names)."""
        choices = tuple(self if choices is None else choices)
        close = difflib.get_close_matches(str(name), choices, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        return f"unknown {self.what} {name!r}.{hint} Choose one of: {', '.join(choices)}."


class Registry(Mapping[str, R], Generic[R]):
    """Name -> record (every record has a ``name``), listed in the order of its :class:`Names`.

    Looking up a name that is not registered raises ConfigError naming the valid ones
    (``in`` and ``get`` do not raise)."""

    def __init__(self, names: Names, fact: Callable[[R], Any] = lambda record: None):
        self.names = names
        self._fact = fact
        self._records: dict[str, R] = {}

    def register(self, record: R) -> R:
        """Add ``record`` under ``record.name`` (and its name to config's choices); returns it."""
        name = record.name  # type: ignore[attr-defined]
        if name in self._records:
            raise ValueError(f"{self.names.what} {name!r} is registered already")
        self.names.add(name, self._fact(record))
        self._records[name] = record
        return record

    def __getitem__(self, name: str) -> R:
        try:
            return self._records[name]
        except (KeyError, TypeError):
            raise ConfigError(self.names.unknown(name, tuple(self))) from None

    def __contains__(self, name: object) -> bool:
        return name in self._records

    def get(self, name: str, default: Any = None) -> Any:
        return self._records.get(name, default)

    def __iter__(self) -> Iterator[str]:
        return (name for name in self.names if name in self._records)

    def __len__(self) -> int:
        return len(self._records)

    def __repr__(self) -> str:
        return f"Registry({self.names.what}: {', '.join(self)})"


# The built-in names of each registry (the registries add what is registered at run time).
DATA_NAMES = Names("data.name", "dataset", {
    "line": "points", "parabola": "points", "spiral": "points", "ring8": "points", "grid25": "points",
    "points": "points", "mnist": "images", "stacked-mnist": "images", "colour-mnist": "images", "folder": "images",
})
MODEL_FAMILY_NAMES = Names("model.family", "model family", ("mlp", "dcgan"))
DCGAN_STYLE_NAMES = Names("model.dcgan_style", "DCGAN style", ("tf", "keras", "radford"))
# fact: whether the objective has a saturating (minimax) generator loss besides its default one
OBJECTIVE_NAMES = Names("objective.name", "objective", {
    "bce": True, "lsgan": False, "hinge": False, "wgan-gp": False, "kl": True, "reverse_kl": True, "js": True,
    "pearson": True, "hellinger": True, "tv": True, "boundary": True,
})
AUGMENT_NAMES = Names("augment.policy", "augmentation", ("color", "translation", "cutout", "flip"))
