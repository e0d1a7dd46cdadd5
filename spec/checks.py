"""The one check of integer parameters, for gateware, models and boards alike."""

import numbers

__all__ = ["check_integer", "check_width"]


def check_integer(name, value, low, high=None, *, low_text=None):
    """Return ``value`` as an ``int`` after checking ``low <= value <= high``.

    Raises ``TypeError`` for a non-integer (``bool`` included) and ``ValueError``
    outside the range (``high=None``: no upper limit), each naming ``name``, the
    value and what is allowed (``low_text``: how to name the lower bound, e.g. the
    expression it comes from).
    """
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    value = int(value)
    if high is None and value < low:
        raise ValueError(f"{name} must be >= {low_text or low}, not {value}")
    if high is not None and not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}, not {value}")
    return value


def check_width(name, value):
    """Raise ``TypeError`` unless ``value`` is a positive ``int`` (a bit width)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise TypeError(f"{name} must be a positive integer, not {value!r}")
