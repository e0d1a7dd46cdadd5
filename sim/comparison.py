"""What ``bit_exact`` means: the gateware's words against the model's, stream by stream.

A run compares, word for word, every stream it has from both engines — every
sample leaving the pulse compressor, every report (detection or plot), every
track report — and the sticky status flags. :class:`Comparison` keeps, per
stream, the words compared and those that differ; the run is bit-exact only when
at least one word was compared, none differs, the flags are equal and the
gateware dropped no ADC sample (a sample an ADC could not have held back).
"""

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Comparison"]


def _rows(words):
    """``words`` (a dict of equal-length column arrays, or a 1-D array of words) as a 2-D
    array, one word a row."""
    if isinstance(words, dict):
        return np.stack([np.asarray(v).ravel() for v in words.values()], axis=1)
    return np.asarray(words).reshape(-1, 1)


@dataclass
class Comparison:
    """Per stream, the words compared and the words that differ; the flags; drops."""
    compared: dict = field(default_factory=dict)
    differing: dict = field(default_factory=dict)
    flags_equal: bool = True
    dropped_samples: int = 0

    def words(self, name, model, gateware):
        """Compare stream ``name``: ``model`` and ``gateware`` are dicts of column
        arrays (one word a row) or 1-D arrays (one word an element). Words count up to the
        longer stream; each position where they differ, or that one stream lacks, is a
        differing word. A run compared block by block adds each block's counts."""
        if isinstance(model, dict) and model.keys() != gateware.keys():
            raise ValueError(f"stream {name}: the engines' fields differ "
                             f"({sorted(model)} against {sorted(gateware)})")
        a, b = _rows(model), _rows(gateware)
        common = min(len(a), len(b))
        equal = np.all(a[:common] == b[:common], axis=1) if common else np.zeros(0, dtype=bool)
        self.compared[name] = self.compared.get(name, 0) + max(len(a), len(b))
        self.differing[name] = (self.differing.get(name, 0) + int(common - equal.sum())
                                + abs(len(a) - len(b)))

    def flags(self, model, gateware):
        """Compare the sticky flags the model has (``gateware`` may hold more)."""
        self.flags_equal = self.flags_equal and all(
            int(gateware[name]) == int(value) for name, value in model.items())

    @property
    def bit_exact(self):
        return (sum(self.compared.values()) > 0 and not any(self.differing.values())
                and self.flags_equal and self.dropped_samples == 0)

    def as_dict(self):
        return {"compared": dict(self.compared), "differing": dict(self.differing),
                "flags_equal": self.flags_equal, "dropped_samples": self.dropped_samples}
