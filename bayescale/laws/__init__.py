"""Scaling laws: the :class:`Law` type, its registry and the built-in laws.

Each law's maths is stated in the docstring of the module that defines it:
:mod:`bayescale.laws.chinchilla` (``L = E + A/N^α + B/D^β``),
:mod:`bayescale.laws.kaplan` (Kaplan et al. 2020's joint and step forms) and
:mod:`bayescale.laws.farseer` (Li et al. 2025, a data exponent that depends on N).
"""

from bayescale.laws.chinchilla import CHINCHILLA
from bayescale.laws.farseer import FARSEER
from bayescale.laws.kaplan import KAPLAN, KAPLAN_STEPS
from bayescale.laws.law import (
    DEFAULT_GROUP_SCALE,
    LOG6,
    Law,
    Theta,
    available_laws,
    get_law,
    register_law,
)

for _law in (CHINCHILLA, KAPLAN, KAPLAN_STEPS, FARSEER):
    register_law(_law)

__all__ = [
    "CHINCHILLA",
    "DEFAULT_GROUP_SCALE",
    "FARSEER",
    "KAPLAN",
    "KAPLAN_STEPS",
    "LOG6",
    "Law",
    "Theta",
    "available_laws",
    "get_law",
    "register_law",
]
