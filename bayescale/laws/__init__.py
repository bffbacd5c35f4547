"""Scaling laws: the :class:`Law` type, its registry and the built-in laws.

Each law's maths is stated in the docstring of the module that defines it:
:mod:`bayescale.laws.chinchilla` (``L = E + A/N^α + B/D^β``),
:mod:`bayescale.laws.kaplan` (Kaplan et al. 2020's joint and step forms),
:mod:`bayescale.laws.farseer` (Li et al. 2025, a data exponent that depends on N),
:mod:`bayescale.laws.chinchilla_beta_n` (Chinchilla's law with ``β`` linear in ``log N``),
:mod:`bayescale.laws.multipower` (Luo et al. 2025's loss curves under any learning-rate
schedule, extended in model size) and :mod:`bayescale.laws.annealing` (Tissue et al. 2024's
law with learning-rate annealing, ``L0 + A·S1^(−α) − C·S2``, extended in model size).
"""

from bayescale.bracket import LOG6
from bayescale.laws.annealing import ANNEALING, annealing_law
from bayescale.laws.chinchilla import CHINCHILLA
from bayescale.laws.chinchilla_beta_n import CHINCHILLA_BETA_N
from bayescale.laws.data_constrained import DATA_CONSTRAINED
from bayescale.laws.farseer import FARSEER
from bayescale.laws.kaplan import KAPLAN, KAPLAN_STEPS
from bayescale.laws.law import (
    DEFAULT_GROUP_SCALE,
    Conditions,
    Law,
    Theta,
    available_laws,
    get_law,
    register_law,
)
from bayescale.laws.multipower import MULTIPOWER

for _law in (
    CHINCHILLA,
    KAPLAN,
    KAPLAN_STEPS,
    FARSEER,
    CHINCHILLA_BETA_N,
    MULTIPOWER,
    ANNEALING,
    DATA_CONSTRAINED,
):
    register_law(_law)

__all__ = [
    "ANNEALING",
    "CHINCHILLA",
    "CHINCHILLA_BETA_N",
    "DEFAULT_GROUP_SCALE",
    "FARSEER",
    "KAPLAN",
    "KAPLAN_STEPS",
    "LOG6",
    "Conditions",
    "Law",
    "Theta",
    "annealing_law",
    "available_laws",
    "get_law",
    "register_law",
]
