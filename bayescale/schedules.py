r"""Learning-rate schedules, and the sums over them that a schedule-aware law reads.

A :class:`Schedule` is the learning rate of one run at every step. Steps are indexed as in
the arrays of Luo et al. 2025 (``src/lr_schedules.py`` of their code): ``lr(i)`` is the
learning rate at step ``i = 0, 1, ..., total``, a linear warmup of ``warmup`` steps runs
``np.linspace(0, peak, warmup)`` over steps ``0 ... warmup − 1`` (so ``lr(0) = 0`` under a
warmup), and ``lr(i)`` for ``i < total`` equals the authors' array entry ``lrs[i]``.
``lr(total)`` is the schedule's end value (``final``), which their arrays leave out.

A checkpoint logged at step ``t`` sees the learning rates ``lr(0) ... lr(t)``:

.. math::

    S_1(t) + S_W = \sum_{i=0}^{t} \eta_i, \qquad
    LD(t) = B \sum_{k=1}^{t} (\eta_{k-1} - \eta_k)\,
            G\!\left(\eta_k^{-\gamma} S_k(t)\right), \qquad
    S_k(t) = \sum_{i=k}^{t} \eta_i,

with ``η_i = lr(i)``. The warmup's steps are part of both sums (their drops are negative:
the learning rate rises). This is the authors' evaluation code, and it is what reproduces
their published prediction errors (0.110% / 0.142% / 0.168% mean relative error on the six
held-out schedules of their 25M / 100M / 400M models, ``tests/test_multipower.py``);
leaving the warmup out of ``LD`` makes the errors 30 times larger.

A rate may be 0 at step 0 (a warmup's start) and at the end of a run that decays to 0
(``final=0``, or trailing zeros in an array or a logged ``lr``): a step at rate 0 trains
nothing, so the loss stays where the last positive rate left it. ``S_1`` adds nothing
there, and the drop to 0 acts through the steps trained after it, of which there are none:
its term, ``η_k^{-γ} S_k(t)`` with ``η_k = S_k(t) = 0``, counts 0 (the limit of ``x → 0``,
not of ``η_k → 0``, which depends on ``γ``). A rate of 0 before a positive one trains
nothing either but is refused, as a gap in a run is more likely a logging error.

Knots: the decay sum in a few terms
-----------------------------------

``LD`` is a sum over every step; a fit needs it at thousands of checkpoints in every
gradient evaluation. :func:`checkpoint_features` compresses it to ``K`` *knots* per
checkpoint: the steps ``1 ... t`` are cut into blocks, and block ``j`` contributes
``D_j G(η_j^{-γ} S_j)`` with ``D_j`` the learning-rate drop summed over the block,
``η_j`` the learning rate at its representative step (where half the block's drop has
happened) and ``S_j = S_{k_j}(t)`` the learning-rate sum from that step to the checkpoint.
Blocks of one step give the sum exactly. The boundaries are the union of

* ``K/2`` blocks holding equal shares of the schedule's total absolute drop (so decay
  phases get knots in proportion to how much the learning rate moves there, and constant
  phases none),
* ``K/2`` blocks geometric in the lag ``t − k`` from 1 to ``t`` (``G`` changes over a few
  steps just before the checkpoint and over thousands far from it),
* the steps where the drop changes sign (the end of a warmup), and the checkpoint.

Blocks in which the learning rate does not move add nothing and are left out, so a
checkpoint has at most ``K`` knots and fewer where its lags fall in constant phases.

Against the exact sum on the authors' nine schedules (24,000 to 72,000 steps) with their
fitted constants for all three model sizes, at checkpoints every 128 steps and every 31
steps over the last 4,000, the largest relative error of the loss is (K: error)
8: 5.5e-4, 16: 1.6e-4, 32: 4.0e-5, 64: 1.3e-5, 128: 6.2e-6, always at the end of a WSD
decay. :data:`DEFAULT_KNOTS` is the smallest ``K`` whose worst error is at most a tenth of
the curves' noise: the log loss of ``multipower_schedules`` scatters with a scale
``σ ≈ 6e-4`` (the posterior mode of the fit's ``sigma``), other curves by up to ``1e-3``,
so ``K = 32``. The decay sum's cost is linear in
``K``.

Finished runs
-------------

:func:`run_features` gives the same inputs for a run of a schedule family (a schedule and
its :meth:`Schedule.stretched` versions) at its last step ``T``, as a pure-JAX function
of ``log T``: the sums become integrals of the continuous schedule
(``Σ_{i=a}^{b} η_i ≈ ∫_{a−½}^{b+½} η``, exact for piecewise-linear schedules), the drop
sum an integral over each smooth piece by Gauss–Legendre quadrature in the log of the lag
``T + ½ − s`` (:data:`RUN_NODES` nodes a piece), plus one term per jump of a piecewise
schedule.
"""

from __future__ import annotations

import inspect
import itertools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np
from scipy.signal import lfilter

from bayescale.errors import InputError

KINDS = ("constant", "cosine", "linear", "wsd", "piecewise", "array")
DECAYS = ("linear", "cosine", "exponential")
DEFAULT_KNOTS = 32
"""Knots per checkpoint of :func:`checkpoint_features` (module docstring: the relative
error of the loss stays below 4.0e-5 on the authors' schedules, a tenth of the curves'
noise)."""
RUN_NODES = 32
"""Gauss–Legendre nodes per smooth piece of a schedule in :func:`run_features`."""


@dataclass(frozen=True)
class Schedule:
    """The learning-rate schedule of one run; build it with :func:`constant`,
    :func:`cosine`, :func:`linear`, :func:`wsd`, :func:`piecewise`, :func:`from_array` or
    :func:`from_logged`.

    Parameters
    ----------
    kind : one of :data:`KINDS`.
    total : the run's last step; ``lr`` is defined at steps ``0 ... total``.
    peak : the learning rate the warmup reaches (the largest, for an array).
    warmup : steps of the linear warmup from 0 (``np.linspace(0, peak, warmup)``).
    final : the learning rate at step ``total`` (``cosine``, ``linear``, ``wsd``); 0 for a
        decay to 0 (not with ``wsd``'s exponential decay).
    decay_start : the step where the decay of ``wsd`` begins.
    decay : the shape of the decay of ``wsd``: ``linear``, ``cosine`` or ``exponential``.
    boundaries, values : ``piecewise``: ``values[j]`` from ``boundaries[j − 1]`` (the end of
        the warmup for ``j = 0``) up to ``boundaries[j]``; the last boundary is ``total``.
    array : ``array``: the learning rate at every step ``0 ... total``.
    """

    kind: str
    total: int
    peak: float
    warmup: int = 0
    final: float | None = None
    decay_start: int | None = None
    decay: str | None = None
    boundaries: tuple[int, ...] = ()
    values: tuple[float, ...] = ()
    array: tuple[float, ...] = ()

    def __post_init__(self):
        if self.kind not in KINDS:
            raise InputError(f"schedule kind must be one of {list(KINDS)}, got {self.kind!r}.")
        if self.kind == "array":
            self._check_array()
        _check_int("warmup", self.warmup, 0)
        if self.kind == "piecewise":
            self._check_pieces()  # before total, which is the last boundary
        _check_int("total", self.total, 1)
        if self.warmup >= self.total:
            raise InputError(
                f"warmup ({self.warmup} steps) must be shorter than the run (total="
                f"{self.total}); shorten the warmup or lengthen the run."
            )
        _check_rate("peak", self.peak)
        if self.kind in ("cosine", "linear", "wsd"):
            _check_rate("final", self.final, zero=True)
            if self.final > self.peak:
                raise InputError(
                    f"final={self.final!r} exceeds peak={self.peak!r}: a {self.kind} schedule "
                    "decays from peak to final, so final <= peak; are the two swapped?"
                )
        if self.kind == "wsd":
            _check_int("decay_start", self.decay_start, 0)
            if not self.warmup <= self.decay_start < self.total:
                raise InputError(
                    f"decay_start={self.decay_start} lies outside the run after its warmup: "
                    f"it must satisfy warmup ({self.warmup}) <= decay_start < total "
                    f"({self.total})."
                )
            if self.decay not in DECAYS:
                raise InputError(f"decay must be one of {list(DECAYS)}, got {self.decay!r}.")
            if self.decay == "exponential" and self.final == 0:
                raise InputError(
                    "final=0 with decay='exponential': an exponential decay never reaches 0; "
                    "give final > 0, or decay='linear' or 'cosine' to decay to 0."
                )

    def _check_array(self) -> None:
        rates = np.asarray(self.array, dtype=float)
        if rates.shape != (self.total + 1,):
            raise InputError(
                f"array must hold one learning rate per step 0 ... total "
                f"({self.total + 1} values), got {rates.size}."
            )
        bad = np.flatnonzero(~np.isfinite(rates))
        if bad.size:
            raise InputError(
                f"lr holds non-finite learning rates (NaN or inf) at steps "
                f"{bad[:5].tolist()}; give a finite rate at every step."
            )
        bad = misplaced_rates(rates, zero_start=True)
        if bad.size:
            raise InputError(
                f"lr holds non-positive learning rates at steps {bad[:5].tolist()}; every "
                "rate must be positive, but for 0 at step 0 (the start of a warmup) and "
                "at the steps after a decay to 0 (the end of the run)."
            )

    def _check_pieces(self) -> None:
        bounds, values = self.boundaries, self.values
        if not bounds or len(bounds) != len(values):
            raise InputError(
                f"piecewise needs one value per stage and one boundary (its end) per stage, "
                f"got {len(values)} values and {len(bounds)} boundaries."
            )
        for value in values:
            _check_rate("values", value)
        for bound in bounds:
            _check_int("boundaries", bound, 1)
        if bounds[0] <= self.warmup or any(b >= c for b, c in itertools.pairwise(bounds)):
            raise InputError(
                f"boundaries {list(bounds)} must increase strictly and start after the "
                f"warmup ({self.warmup} steps)."
            )

    # ------------------------------------------------------------------ values
    def lr(self, steps=None) -> np.ndarray:
        """The learning rate at each step of ``steps`` (integers in ``0 ... total``; all
        steps when omitted). ``lr(np.arange(total))`` is the authors' array."""
        table = self._table()
        if steps is None:
            return table
        steps = np.asarray(steps)
        if not np.issubdtype(steps.dtype, np.integer):
            if not np.all(np.mod(steps, 1) == 0):
                raise InputError("steps must be whole numbers (step indices).")
            steps = steps.astype(np.int64)
        if steps.size and (steps.min() < 0 or steps.max() > self.total):
            raise InputError(
                f"steps must lie in 0 ... total ({self.total}), got {steps.min()} ... "
                f"{steps.max()}; a longer run needs schedule.stretched(total)."
            )
        return table[steps]

    def _table(self) -> np.ndarray:
        """``lr`` at every step ``0 ... total``, by the authors' formulas."""
        if self.kind == "array":
            return np.asarray(self.array, dtype=float)
        out = np.empty(self.total + 1)
        warm = self.warmup
        out[:warm] = np.linspace(0, self.peak, warm)
        if self.kind == "constant":
            out[warm:] = self.peak
        elif self.kind == "piecewise":
            start = warm
            for bound, value in zip(self.boundaries, self.values, strict=True):
                out[start:bound] = value
                start = bound
            out[start:] = self.values[-1]
        else:
            begin = self._decay_begin
            out[warm:begin] = self.peak
            step = np.arange(self.total + 1)[begin:]
            peak, final, total = self.peak, self.final, self.total
            shape = self.decay if self.kind == "wsd" else self.kind
            if shape == "exponential":
                out[begin:] = peak ** ((total - step) / (total - begin)) * final ** (
                    (step - begin) / (total - begin)
                )
            elif shape == "linear":
                out[begin:] = peak * (1 - (step - begin) / (total - begin)) + final * (
                    step - begin
                ) / (total - begin)
            else:
                out[begin:] = final + 0.5 * (peak - final) * (
                    1 + np.cos(np.pi * (step - begin) / (total - begin))
                )
        return out

    @property
    def _decay_begin(self) -> int:
        return self.decay_start if self.kind == "wsd" else self.warmup

    # ------------------------------------------------------------ conversions
    def to_dict(self) -> dict:
        """The schedule as JSON-ready data; :meth:`from_dict` rebuilds it."""
        if self.kind == "array":
            return {"kind": "array", "lr": [float(v) for v in self.array]}
        if self.kind == "piecewise":
            return {
                "kind": "piecewise",
                "boundaries": [int(b) for b in self.boundaries],
                "values": [float(v) for v in self.values],
                "warmup": int(self.warmup),
            }
        out = {
            "kind": self.kind,
            "total": int(self.total),
            "peak": float(self.peak),
            "warmup": int(self.warmup),
        }
        if self.kind != "constant":
            out["final"] = float(self.final)
        if self.kind == "wsd":
            out["decay_start"] = int(self.decay_start)
            out["decay"] = self.decay
        return out

    @staticmethod
    def from_dict(data: Mapping | str) -> Schedule:
        """The schedule that :meth:`to_dict` wrote (a dict, or its JSON text)."""
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except json.JSONDecodeError as error:
                raise InputError(f"a schedule must be JSON text, got {data[:80]!r}.") from error
        kind = data.get("kind") if isinstance(data, Mapping) else None
        if not isinstance(kind, str) or kind not in _MAKERS:
            got = kind if isinstance(data, Mapping) else type(data).__name__
            raise InputError(
                f"a schedule needs 'kind', one of {list(_MAKERS)}, got {got!r}; write it "
                "with Schedule.to_dict()."
            )
        maker = _MAKERS[data["kind"]]
        args = {k: v for k, v in data.items() if k != "kind"}
        try:
            return maker(**args)
        except TypeError as error:
            parameters = inspect.signature(maker).parameters.values()
            required = [p.name for p in parameters if p.default is p.empty]
            optional = [p.name for p in parameters if p.default is not p.empty]
            raise InputError(
                f"schedule {dict(data)!r} does not fit {maker.__name__}: {error}. "
                f"{maker.__name__} takes {', '.join(required)}"
                + (f" (and optionally {', '.join(optional)})" if optional else "")
                + "."
            ) from error

    @staticmethod
    def from_text(text: str) -> Schedule:
        """A schedule written on one line, as the command line takes it: a family and its
        constructor's arguments, ``kind:name=value,...``, for example
        ``cosine:total=24000,peak=3e-4,final=3e-5,warmup=2160`` (:func:`cosine`) or
        ``wsd:total=24000,peak=3e-4,final=3e-5,decay_start=19200,decay=linear``; lists
        (``piecewise``'s, an ``array``'s ``lr``) separated by ``/``
        (``boundaries=8000/24000,values=3e-4/3e-5``).
        Text that starts with ``{`` is read as :meth:`to_dict`'s JSON."""
        if text.lstrip().startswith("{"):
            return Schedule.from_dict(text)
        example = "e.g. cosine:total=24000,peak=3e-4,final=3e-5,warmup=2160"
        kind, _, rest = text.partition(":")
        if kind.strip() not in _MAKERS:
            raise InputError(
                f"schedule {text!r} does not start with a family, one of {list(_MAKERS)}, "
                f"and a colon; {example}."
            )
        data: dict = {"kind": kind.strip()}
        for item in filter(None, (part.strip() for part in rest.split(","))):
            name, equals, value = item.partition("=")
            if not equals or not name.strip() or not value.strip():
                raise InputError(
                    f"schedule {text!r}: {item!r} is not name=value; write the family, a "
                    f"colon and its arguments, {example}."
                )
            values = [_number_or_word(v) for v in value.split("/")]
            listed = name.strip() in ("boundaries", "values", "lr")
            data[name.strip()] = values if listed else values[0]
        return Schedule.from_dict(data)

    def describe(self) -> str:
        """The schedule in words, e.g. ``"cosine 0.0003 → 3e-05 over 24,000 steps (2,160
        warmup)"``."""
        warmup = f" ({self.warmup:,} warmup)" if self.warmup else ""
        if self.kind == "constant":
            shape = f"constant {self.peak:g}"
        elif self.kind == "wsd":
            shape = (
                f"wsd {self.peak:g} → {self.final:g}, {self.decay} decay from step "
                f"{self.decay_start:,}"
            )
        elif self.kind == "piecewise":
            shape = "piecewise " + " → ".join(f"{v:g}" for v in self.values)
        elif self.kind == "array":
            shape = f"array, peak {self.peak:g}"
        else:
            shape = f"{self.kind} {self.peak:g} → {self.final:g}"
        return f"{shape} over {self.total:,} steps{warmup}"

    def stretched(self, total: int) -> Schedule:
        """The same family run to ``total`` steps.

        The warmup keeps its steps (runs of a family usually fix their warmup in steps, as
        the authors' 24,000- and 72,000-step runs do). The phases after it (the constant
        or decaying rest of the run; a ``wsd``'s stable phase and decay; the stages of a
        ``piecewise`` schedule) keep their fractions of the run as nearly as whole steps
        allow while each keeps at least one step: the steps ``c_1 < ... < c_J`` where a
        phase after the first begins (``decay_start`` after a stable phase, the
        ``piecewise`` boundaries but the last) become

        ``c'_j = min(max(round(c_j · total / T₀), c'_{j−1} + 1), total − (J + 1 − j))``,
        ``c'_0 = warmup``,

        with ``T₀`` this schedule's ``total``. This needs ``total ≥ warmup + J + 1`` (a step
        for each phase); a shorter ``total`` is an error that names that shortest length.
        """
        _check_int("total", total, 1)
        if self.kind == "array":
            raise InputError(
                "an array schedule has no family to stretch; give the run's schedule as "
                "bs.schedules.cosine(...), wsd(...) or another family."
            )
        starts = self._phase_starts
        shortest = self.warmup + len(starts) + 1
        if total < shortest:
            raise InputError(
                f"cannot stretch {self.describe()} to total={total} steps: its warmup "
                f"({self.warmup:,} steps) and its {len(starts) + 1} phase(s) after the warmup "
                f"need at least one step each, so the shortest stretch is total={shortest}; "
                "stretch it to at least that, or start from a schedule with a shorter warmup."
            )
        starts = _stretched_starts(starts, self.total, total, self.warmup)
        if self.kind == "piecewise":
            return piecewise([*starts, total], self.values, warmup=self.warmup)
        args = {k: v for k, v in self.to_dict().items() if k != "kind"}
        args["total"] = total
        if self.kind == "wsd":
            args["decay_start"] = starts[0] if starts else self.warmup
        return _MAKERS[self.kind](**args)

    @property
    def _phase_starts(self) -> tuple[int, ...]:
        """``c_1 < ... < c_J`` of :meth:`stretched`, the steps where a later phase begins:
        a ``wsd``'s decay after a stable phase, a ``piecewise`` schedule's later stages."""
        if self.kind == "piecewise":
            return self.boundaries[:-1]
        if self.kind == "wsd" and self.decay_start > self.warmup:
            return (self.decay_start,)
        return ()


def _stretched_starts(starts, old_total: int, total: int, warmup: int) -> list[int]:
    """``c'_j`` of :meth:`Schedule.stretched` for the phase starts ``c_j`` of a run of
    ``old_total`` steps stretched to ``total``."""
    out, last = [], warmup
    for j, start in enumerate(starts, 1):
        rounded = round(start * total / old_total)
        last = min(max(rounded, last + 1), total - (len(starts) + 1 - j))
        out.append(last)
    return out


def _number_or_word(text: str) -> int | float | str:
    """A value of :meth:`Schedule.from_text`: a whole number, a number, or a word (a
    ``decay`` shape)."""
    text = text.strip()
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _check_int(name: str, value, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise InputError(f"{name} must be a whole number of steps >= {low}, got {value!r}.")


def _as_floats(name: str, values) -> np.ndarray:
    try:
        return np.asarray(values, dtype=float)
    except (TypeError, ValueError) as error:
        raise InputError(
            f"{name} must be an array of numbers, got {values!r:.80} ({error})."
        ) from error


def misplaced_rates(rates, zero_start: bool) -> np.ndarray:
    """Positions of finite learning rates, in step order, that a run cannot have: negative
    ones, and 0 before a later positive rate, except at position 0 when ``zero_start`` (the
    start of a warmup). 0 after the last positive rate is a decay to 0 (module
    docstring)."""
    rates = np.asarray(rates, dtype=float)
    positive = rates > 0
    last = np.flatnonzero(positive)[-1] if positive.any() else rates.size
    position = np.arange(rates.size)
    allowed = positive | ((rates == 0) & (position > last))
    if zero_start:
        allowed[0] |= rates[0] == 0
    return np.flatnonzero(~allowed)


def _check_rate(name: str, value, zero: bool = False) -> None:
    """``value`` is a finite learning rate, positive (or 0 where ``zero``: a decay's end)."""
    kind = "a finite learning rate >= 0" if zero else "a positive, finite learning rate"
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float | np.number)
        or not (math.isfinite(value) and (value >= 0 if zero else value > 0))
    ):
        raise InputError(f"{name} must be {kind}, got {value!r}.")


# ------------------------------------------------------------------ constructors
def constant(total: int, peak: float, warmup: int = 0) -> Schedule:
    """``peak`` after a linear warmup (the authors' ``const_lrs``)."""
    return Schedule("constant", total, peak, warmup)


def cosine(total: int, peak: float, final: float, warmup: int = 0) -> Schedule:
    """Cosine decay from ``peak`` at the end of the warmup to ``final`` at ``total``:
    ``final + (peak − final)(1 + cos(π (i − warmup)/(total − warmup)))/2`` (the authors'
    ``cosine_lrs``)."""
    return Schedule("cosine", total, peak, warmup, final=final)


def linear(total: int, peak: float, final: float, warmup: int = 0) -> Schedule:
    """Linear decay from ``peak`` at the end of the warmup to ``final`` at ``total``."""
    return Schedule("linear", total, peak, warmup, final=final)


def wsd(
    total: int,
    peak: float,
    final: float,
    decay_start: int,
    warmup: int = 0,
    decay: str = "linear",
) -> Schedule:
    """Warmup, stable at ``peak``, then a decay from ``peak`` at ``decay_start`` to
    ``final`` at ``total``: ``linear`` (the authors' ``wsdld_lrs``), ``cosine``, or
    ``exponential``, ``peak^{1−u} final^u`` with ``u`` the decay's progress (their
    ``wsd_lrs``)."""
    return Schedule("wsd", total, peak, warmup, final=final, decay_start=decay_start, decay=decay)


def piecewise(boundaries, values, warmup: int = 0) -> Schedule:
    """Constant stages: ``values[j]`` up to step ``boundaries[j]`` (exclusive), after a
    warmup to ``values[0]``; the last boundary is the run's ``total``. The authors'
    ``two_stage_lrs(warmup, total, a, b, stage_a)`` is
    ``piecewise([stage_a, total], [a, b], warmup)``."""
    bounds, vals = tuple(boundaries), tuple(values)
    if not bounds or not vals:
        raise InputError("piecewise needs at least one boundary and one value.")
    total = bounds[-1]
    return Schedule("piecewise", total, vals[0], warmup, boundaries=bounds, values=vals)


def from_array(lr) -> Schedule:
    """A schedule given as the learning rate at every step ``0 ... len(lr) − 1``."""
    rates = _as_floats("lr", lr)
    if rates.ndim != 1 or rates.size < 2:
        raise InputError(
            f"lr must be a 1-D array of at least 2 learning rates (steps 0, 1, ...), got "
            f"shape {rates.shape}."
        )
    return Schedule("array", rates.size - 1, float(np.max(rates)), 0, array=tuple(rates))


def from_logged(steps, lr, start: float | None = 0.0) -> Schedule:
    """A schedule from learning rates logged at some steps only (an ``lr`` column logged at
    checkpoints): linear in the step between logged values, and from ``start`` at step 0
    to the first logged value (``0.0``: a linear warmup from zero, as in most runs;
    ``None``: the first logged value held back to step 0). The schedule ends at the last
    logged step.

    One exception: a change between two logged steps with the rate unchanged over the
    logged intervals on both sides of it is a step of a piecewise-constant schedule (a
    two-stage run, a WSD run's drop to a constant), and the new rate starts at the later
    logged step, where such a stage's boundary is usually logged. Read as linear, the drop
    would start up to a logging interval early."""
    steps, rates = _as_floats("steps", steps), _as_floats("lr", lr)
    if steps.shape != rates.shape or steps.ndim != 1 or steps.size == 0:
        raise InputError(
            f"steps and lr must be 1-D arrays of the same length, got shapes {steps.shape} "
            f"and {rates.shape}."
        )
    if np.any(np.diff(steps) <= 0) or steps[0] < 0 or np.any(np.mod(steps, 1) != 0):
        raise InputError("logged steps must be whole numbers >= 0 that increase strictly.")
    bad = np.flatnonzero(~np.isfinite(rates))
    if bad.size:
        raise InputError(
            f"lr holds non-finite learning rates (NaN or inf) at logged steps "
            f"{steps[bad[:5]].astype(int).tolist()} (positions {bad[:5].tolist()}); drop "
            "those rows or give their rates."
        )
    if steps[0] > 0:
        first = rates[0] if start is None else start
        steps, rates = np.r_[0.0, steps], np.r_[first, rates]
    per_step = np.interp(np.arange(steps[-1] + 1), steps, rates)
    change = np.diff(rates)
    stepped = (change[1:-1] != 0) & (change[:-2] == 0) & (change[2:] == 0)
    for j in np.flatnonzero(stepped) + 1:
        per_step[int(steps[j]) : int(steps[j + 1])] = rates[j]
    return from_array(per_step)


_MAKERS = {
    "constant": constant,
    "cosine": cosine,
    "linear": linear,
    "wsd": wsd,
    "piecewise": piecewise,
    "array": from_array,
}


# ------------------------------------------------------------ checkpoint features
def checkpoint_features(schedule: Schedule, steps, knots: int | None = DEFAULT_KNOTS) -> dict:
    """The law's inputs at checkpoints logged at ``steps`` of a run of ``schedule``.

    Parameters
    ----------
    schedule : the run's schedule.
    steps : the checkpoints' steps, whole numbers in ``1 ... schedule.total``.
    knots : ``K`` of the module docstring; ``None`` puts every step in its own block (the
        exact sum; ``O(total)`` knots per checkpoint, for short schedules and checks).

    Returns
    -------
    ``{"lr_sum": (n,), "knot_lr": (n, M), "knot_drop": (n, M), "knot_area": (n, M)}``:
    ``S_1 + S_W`` per checkpoint and, per knot, ``η_j``, ``D_j`` and ``S_j`` (float64).
    Blocks without a drop are left out; knots past a checkpoint's own are padding with
    zero drop.
    """
    steps = np.asarray(steps)
    if steps.ndim != 1 or steps.size == 0:
        raise InputError(f"steps must be a non-empty 1-D array, got shape {steps.shape}.")
    if knots is not None and (not isinstance(knots, int) or knots < 2):
        raise InputError(f"knots must be a whole number >= 2 or None, got {knots!r}.")
    lr = schedule.lr()
    if steps.min() < 1 or steps.max() > schedule.total or np.any(np.mod(steps, 1) != 0):
        raise InputError(
            f"checkpoint steps must be whole numbers in 1 ... total ({schedule.total}), got "
            f"{steps.min()} ... {steps.max()}; give the run's full schedule."
        )
    steps = steps.astype(np.int64)
    cum = np.cumsum(lr)
    drop = np.r_[0.0, lr[:-1] - lr[1:]]
    moved = np.cumsum(np.abs(drop))
    if knots is None:
        fixed = np.flatnonzero(drop) - 1
    else:
        shares = np.linspace(0.0, moved[-1], knots // 2 + 1)[1:-1] if moved[-1] > 0 else []
        sign = np.sign(drop)
        live = np.flatnonzero(sign)
        turns = live[1:][sign[live[1:]] != sign[live[:-1]]] - 1
        fixed = np.unique(np.r_[np.searchsorted(moved, shares), turns])
    blocks = []
    for t in steps:
        bounds = _blocks(t, fixed, knots)
        a, b = bounds[:-1], bounds[1:]
        at = np.clip(np.searchsorted(moved, 0.5 * (moved[a] + moved[b])), a + 1, b)
        # a block without a drop adds nothing to the sum, nor one whose rate is 0 (a decay
        # to 0 at the end of the run: no step trains after it)
        live = (lr[a] != lr[b]) & (lr[at] > 0)
        blocks.append((t, a[live], b[live], at[live]))
    width = max(1, *(a.size for _, a, _, _ in blocks))
    out = {
        "lr_sum": cum[steps],
        "knot_lr": np.ones((steps.size, width)),
        "knot_drop": np.zeros((steps.size, width)),
        "knot_area": np.ones((steps.size, width)),
    }
    for row, (t, a, b, at) in enumerate(blocks):
        n = a.size
        out["knot_lr"][row, :n] = lr[at]
        out["knot_drop"][row, :n] = lr[a] - lr[b]
        out["knot_area"][row, :n] = cum[t] - cum[at - 1]
    return out


def _blocks(t: int, fixed: np.ndarray, knots: int | None) -> np.ndarray:
    """Block boundaries ``0 = b_0 < ... < b_m = t`` of a checkpoint at step ``t``."""
    if knots is None:
        cuts = np.r_[fixed, fixed + 1]
    else:
        cuts = np.r_[fixed, t - np.round(np.geomspace(1, t, knots // 2)).astype(np.int64)]
    return np.unique(np.r_[0, cuts[(cuts > 0) & (cuts < t)], t])


# ------------------------------------------------------------- finished runs (JAX)
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(RUN_NODES)


def _quadrature(like):
    """The Gauss–Legendre nodes and weights as new arrays of ``like``'s dtype. JAX (0.10)
    keeps the device copy of a NumPy constant that a jit captured, in the precision it was
    captured in, and hands it to later calls in the other precision, which fail: planning
    switches precision per posterior (``jax.enable_x64``), so the module's arrays never
    reach JAX as they are."""
    return jnp.asarray(_NODES, like.dtype), jnp.asarray(_WEIGHTS, like.dtype)


def run_features(schedule: Schedule | Mapping, log_steps) -> dict:
    """The law's inputs (as :func:`checkpoint_features`) at the last step ``T`` of runs of
    ``schedule``'s family stretched to ``T = exp(log_steps)`` steps (continuous ``T``), pure
    JAX, differentiable and elementwise in ``log_steps``: arrays of shape
    ``log_steps.shape`` and ``log_steps.shape + (M,)``.

    The family follows :meth:`Schedule.stretched`: warmup steps kept (at most ``T/2``, so
    that runs shorter than twice the warmup still have one), a ``wsd`` decay and
    ``piecewise`` stages at their fractions of the run. See the module docstring for the
    quadrature; against the exact sums at the end of the authors' schedules the loss
    differs by less than 3e-8 relative.
    """
    if not isinstance(schedule, Schedule):
        schedule = Schedule.from_dict(schedule)
    if schedule.kind == "array":
        raise InputError(
            "a finished run needs a schedule family, not an array; give one of "
            f"{[k for k in KINDS if k != 'array']} (bs.schedules.cosine(...), ...)."
        )
    total = jnp.exp(jnp.asarray(log_steps))[..., None]
    nodes, weights = _quadrature(total)
    pieces, jumps = _pieces(schedule, total)
    full = [piece[1] * _tail(piece, 1.0) for piece in pieces]
    after = [sum(full[i + 1 :], 0.0 * total) for i in range(len(pieces))]
    lr_parts, drop_parts, area_parts = [], [], []
    for i, piece in enumerate(pieces):
        to_end, length, shape = piece[:3]
        if shape == "constant":
            continue
        # nodes at lag T + 1/2 − s = c + v, v the distance back from the piece's end
        c = to_end + 0.5
        width = jnp.log1p(length / c)
        v = c * jnp.expm1(width * (nodes + 1) / 2)
        lr_parts.append(_rate_in(piece, jnp.maximum(v - 0.5, 0.0) / length))
        drop_parts.append(-_slope(piece, v / length) * (c + v) * width / 2 * weights)
        area_parts.append(length * _tail(piece, v / length) + after[i])
    for index, before, later in jumps:
        lr_parts.append(later + 0.0 * total)
        drop_parts.append(before - later + 0.0 * total)
        area_parts.append(after[index - 1])
    # Σ_{i=0}^{T} η_i = ∫_{-1/2}^{T+1/2} η, with η = η_0 on [-1/2, 0]
    start = 0.5 * schedule.peak if schedule.warmup == 0 else 0.0
    knot_lr = jnp.concatenate(lr_parts, axis=-1)
    live = knot_lr > 0  # the last half step of a decay to 0 trains nothing after its drop
    return {
        "lr_sum": sum(full)[..., 0] + start,
        "knot_lr": jnp.where(live, knot_lr, 1.0),
        "knot_drop": jnp.where(live, jnp.concatenate(drop_parts, axis=-1), 0.0),
        "knot_area": jnp.where(live, jnp.concatenate(area_parts, axis=-1), 1.0),
    }


# ------------------------------------------------ the annealing area (Tissue et al. 2024)
DEFAULT_DECAY_FACTOR = 0.999
"""``λ`` of the annealing momentum ``m_i`` (Tissue et al. 2024, :mod:`bayescale.laws.annealing`),
the paper's value."""


def check_decay_factor(decay_factor) -> float:
    """``decay_factor`` as a float, or an ``InputError`` unless it is a number in (0, 1)."""
    if isinstance(decay_factor, bool) or not isinstance(decay_factor, int | float | np.floating):
        raise InputError(
            f"decay_factor must be a number in (0, 1), got {type(decay_factor).__name__}."
        )
    if not 0 < decay_factor < 1:
        raise InputError(
            f"decay_factor must lie in (0, 1) (the momentum's decay per step; the paper's "
            f"is {DEFAULT_DECAY_FACTOR}), got {decay_factor!r}."
        )
    return float(decay_factor)


def annealing_sums(schedule: Schedule, decay_factor: float = DEFAULT_DECAY_FACTOR):
    r"""The forward area ``S_1`` and the annealing area ``S_2`` at every step of a schedule.

    ``S_1(t) = Σ_{i=0}^{t} η_i`` and ``S_2(t) = Σ_{i=1}^{t} m_i`` with
    ``m_i = λ m_{i−1} + D_i``, ``D_i = η_{i−1} − η_i`` after the learning rate first falls
    and 0 before (module docstring), in float64.

    Parameters
    ----------
    schedule
        the run's :class:`~bayescale.schedules.Schedule`.
    decay_factor
        ``λ``, in (0, 1).

    Returns
    -------
    ``(S_1, S_2)``, two arrays of ``schedule.total + 1`` values, steps ``0 ... total``.
    """
    decay_factor = check_decay_factor(decay_factor)
    lr = schedule.lr()
    drop = np.r_[0.0, lr[:-1] - lr[1:]]
    falls = np.flatnonzero(drop > 0)
    drop[: falls[0] if falls.size else drop.size] = 0.0  # the rise before the first fall
    momentum = lfilter([1.0], [1.0, -decay_factor], drop)  # m_i = λ m_{i−1} + D_i
    return np.cumsum(lr), np.cumsum(momentum)


def run_annealing_area(schedule: Schedule, log_steps, decay_factor: float = DEFAULT_DECAY_FACTOR):
    r"""``S_2`` at the last step ``T`` of runs of ``schedule``'s family stretched to
    ``T = exp(log_steps)`` steps (continuous ``T``), pure JAX, differentiable and
    elementwise in ``log_steps``.

    The sum ``Σ_k D_k K(T − k + 1)``, ``K(ℓ) = (1 − λ^ℓ)/(1 − λ)``, becomes, as in
    :func:`bayescale.schedules.run_features` (whose continuous schedule and quadrature it
    uses), an integral of ``−η'(s) K(T + ½ − s)`` over each smooth piece by Gauss–Legendre
    quadrature in the log of the lag ``T + ½ − s``, plus one term per jump of a piecewise
    schedule; pieces and jumps before the learning rate first falls are left out.

    Parameters
    ----------
    schedule
        a :class:`~bayescale.schedules.Schedule` of a family (not an array).
    log_steps
        ``log T``, any shape.
    decay_factor
        ``λ``, in (0, 1).

    Returns
    -------
    ``S_2(T)``, of the shape of ``log_steps``.
    """
    decay_factor = check_decay_factor(decay_factor)
    log_decay, scale = math.log(decay_factor), 1.0 / (1.0 - decay_factor)

    def kernel(lag):
        return -jnp.expm1(lag * log_decay) * scale

    total = jnp.exp(jnp.asarray(log_steps))[..., None]
    nodes, weights = _quadrature(total)
    pieces, jumps = _pieces(schedule, total)
    jump_at = {index: (before, later) for index, before, later in jumps}
    fallen, parts = False, [0.0 * total]
    for index, piece in enumerate(pieces):
        to_end, length, shape, start, stop = piece
        if index in jump_at:
            before, later = jump_at[index]
            fallen = fallen or later < before
            if fallen:  # the jump lies half a step into this piece
                parts.append((before - later) * kernel(to_end + length + 0.5))
        fallen = fallen or (shape != "constant" and stop < start)
        if shape == "constant" or not fallen:
            continue
        # nodes at lag T + 1/2 − s = c + v, v the distance back from the piece's end
        c = to_end + 0.5
        width = jnp.log1p(length / c)
        v = c * jnp.expm1(width * (nodes + 1) / 2)
        drop = -_slope(piece, v / length) * (c + v) * width / 2 * weights
        parts.append(jnp.sum(drop * kernel(c + v), axis=-1, keepdims=True))
    return sum(parts)[..., 0]


def _pieces(schedule: Schedule, total):
    """The continuous schedule of a run to step ``total``, in distances back from it (exact
    in float32 near the end of long runs): smooth pieces ``(to_end, length, shape,
    lr_start, lr_stop)``, a piece ending at step ``total − to_end``, with ``η`` equal to
    ``lr(i)`` at whole steps; jumps ``(index, lr_before, lr_after)`` to the rate of piece
    ``index``, half a step into which the jump lies (a piecewise schedule's stages, a
    one-step warmup).
    The last piece, at the final rate, ends half a step after ``total``."""
    peak, zero = schedule.peak, 0.0 * total
    warm = jnp.minimum(float(schedule.warmup), total / 2)
    pieces, jumps = [], []
    if schedule.warmup >= 2:
        pieces.append((total - (warm - 1), warm - 1, "linear", 0.0, peak))
        flat_from = warm - 1
    elif schedule.warmup == 1:
        pieces.append((total - 0.5, zero + 0.5, "constant", 0.0, 0.0))
        jumps.append((1, 0.0, peak))
        flat_from = zero + 0.5
    else:
        flat_from = zero
    if schedule.kind in ("constant", "piecewise"):
        values = schedule.values if schedule.kind == "piecewise" else (peak,)
        back = total - flat_from  # from the start of the stage to step T
        for bound, value, after in zip(schedule.boundaries, values, values[1:], strict=False):
            # the next stage starts at step total·bound/schedule.total, after the warmup
            stage_back = jnp.minimum(total * (1 - bound / schedule.total), total - warm - 1)
            stage_back = stage_back + 0.5
            pieces.append((stage_back, back - stage_back, "constant", value, value))
            jumps.append((len(pieces), value, after))
            back = stage_back
        pieces.append((zero - 0.5, back + 0.5, "constant", values[-1], values[-1]))
    else:
        if schedule.kind == "wsd":
            decay = jnp.minimum(total * (1 - schedule.decay_start / schedule.total), total - warm)
            shape = schedule.decay
        else:
            decay, shape = total - jnp.maximum(warm, flat_from), schedule.kind
        pieces.append((decay, total - flat_from - decay, "constant", peak, peak))
        pieces.append((zero, decay, shape, peak, schedule.final))
        pieces.append((zero - 0.5, zero + 0.5, "constant", schedule.final, schedule.final))
    return pieces, jumps


def _rate_in(piece, eps):
    """``η`` at fraction ``eps`` of ``piece`` back from its end."""
    shape, v0, v1 = piece[2:]
    if shape == "constant":
        return v0 + 0.0 * eps
    if shape == "linear":
        return v1 - (v1 - v0) * eps
    if shape == "cosine":  # ½(1 − cos πε) = sin²(πε/2), exact near the end of a decay to 0
        return v1 + (v0 - v1) * jnp.sin(jnp.pi * eps / 2) ** 2
    return v1 * (v0 / v1) ** eps


def _slope(piece, eps):
    """``dη/ds`` at fraction ``eps`` of ``piece`` back from its end."""
    length, shape, v0, v1 = piece[1:]
    if shape == "linear":
        return (v1 - v0) / length + 0.0 * eps
    if shape == "cosine":
        return -0.5 * (v0 - v1) * jnp.pi * jnp.sin(jnp.pi * eps) / length
    return _rate_in(piece, eps) * math.log(v1 / v0) / length


def _tail(piece, eps):
    """``∫ η`` over the last fraction ``eps`` of ``piece``, per step of its length, in
    closed form in ``eps`` (so that short tails of long runs keep their precision)."""
    shape, v0, v1 = piece[2:]
    if shape == "constant":
        return v0 * eps
    if shape == "linear":
        return eps * (v1 - (v1 - v0) * eps / 2)
    if shape == "cosine":
        return v1 * eps + 0.5 * (v0 - v1) * _x_minus_sin(jnp.pi * eps) / jnp.pi
    rate = math.log(v0 / v1)
    return v1 * jnp.expm1(eps * rate) / rate if rate != 0 else v1 * eps


def _x_minus_sin(x):
    """``x − sin x`` without the cancellation near 0 (where a cosine decay to 0 has its
    tail): its Taylor series below ``x = 0.5``, whose first omitted term, ``x^15/15!``, is
    below 1.2e-15 of the sum there, and the difference above."""
    small = jnp.minimum(x, 0.5)
    x2 = small * small
    series = (
        small**3
        / 6
        * (1 - x2 / 20 * (1 - x2 / 42 * (1 - x2 / 72 * (1 - x2 / 110 * (1 - x2 / 156)))))
    )
    return jnp.where(x < 0.5, series, x - jnp.sin(x))
