"""What a posterior knows about how it was made: typed, immutable fit information.

:class:`FitInfo` travels with every :class:`~bayescale.Posterior`: the law and noise
model, the pooling, the data's ranges and provenance (:class:`DataInfo`), the sampler's
settings and seed (:class:`SamplerInfo`), the priors as fitted and the sampling
diagnostics. Posterior files store it as JSON (:meth:`FitInfo.to_dict`);
:meth:`FitInfo.from_dict` reads it back, and :meth:`FitInfo.from_format1` reads the
untyped dictionary of file format 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime

import numpy as np

from bayescale.hull import hull

LOG6 = float(np.log(6.0))


def _span(values) -> tuple[float, float]:
    return float(np.min(values)), float(np.max(values))


@dataclass(frozen=True)
class DataInfo:
    """The fitted points: how many, how many excluded, their ranges in log N, log D and
    log compute (``C = 6ND``), their centre (mean log N and log D: where sheared intercepts
    and hierarchical spreads are placed), the vertices of their convex hull in ``(log N,
    log D)`` (:mod:`bayescale.fitted_region`; empty in files written before it was kept),
    and the sweep's provenance card and the derivations applied to it."""

    points: int
    log_n_range: tuple[float, float]
    log_d_range: tuple[float, float]
    log_compute_range: tuple[float, float]
    centre: dict
    excluded: int = 0
    source: dict = field(default_factory=dict)
    derivations: tuple[str, ...] = ()
    hull: tuple[tuple[float, float], ...] = ()

    @classmethod
    def from_arrays(cls, log_n, log_d, **provenance) -> DataInfo:
        """From the fitted points' ``log N`` and ``log D``; ``provenance`` sets
        ``excluded``, ``source`` and ``derivations``."""
        log_n, log_d = np.asarray(log_n, float), np.asarray(log_d, float)
        return cls(
            points=int(log_n.size),
            log_n_range=_span(log_n),
            log_d_range=_span(log_d),
            log_compute_range=_span(LOG6 + log_n + log_d),
            centre={"n": float(log_n.mean()), "d": float(log_d.mean())},
            hull=hull(log_n, log_d),
            **provenance,
        )


@dataclass(frozen=True)
class SamplerInfo:
    """How the draws were made. ``seed`` also seeds the draws that queries add per
    posterior draw (a new group's ``z``, the extrapolation error's ``z``), so one posterior
    answers every query with the same pairing. Fields a sampler outside bayescale does not
    report are None."""

    algorithm: str
    chains: int
    draws: int
    seed: int = 0
    warmup: int | None = None
    target_accept: float | None = None
    dense_mass: bool | None = None
    max_tree_depth: int | None = None
    init: dict = field(default_factory=dict)
    chain_method: str | None = None
    devices: int | None = None
    latent_dimensions: int | None = None
    regularize_mass_matrix: bool | None = None
    device: str | None = None
    precision: str | None = None
    seconds: float | None = None


@dataclass(frozen=True)
class CurveInfo:
    """Training curves: the number of runs (0 for a sweep of finished runs), the share
    of each run's tokens before which checkpoints were excluded, the column whose values
    group the runs' offsets (:mod:`bayescale.likelihood`; None without offset groups), and
    for a law that reads schedules the learning rates the fitted runs trained at: the range
    of their peaks and the lowest rate any reached after its peak
    (:func:`bayescale.sweep_schedules.fitted_rates`; None otherwise, and in files written
    before they were kept)."""

    runs: int = 0
    min_fraction: float | None = None
    offset_groups: str | None = None
    peak_lr: tuple[float, float] | None = None
    lowest_lr: float | None = None


@dataclass(frozen=True)
class FitInfo:
    """Everything about a fit but its draws (module docstring)."""

    law: str
    likelihood: str
    data: DataInfo
    sampler: SamplerInfo
    formula: str = ""
    law_settings: dict = field(default_factory=dict)
    pooling: str = "none"
    vary: tuple[str, ...] = ()
    centring: str | None = None
    curves: CurveInfo = field(default_factory=CurveInfo)
    priors: dict = field(default_factory=dict)
    extrapolation_error: float = 1.0
    diagnostics: dict = field(default_factory=dict)
    bayescale_version: str = ""
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def to_dict(self) -> dict:
        """Plain JSON-ready values (tuples become lists)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping) -> FitInfo:
        """The inverse of :meth:`to_dict`."""
        values = dict(values)
        data = dict(values.pop("data"))
        for name in ("log_n_range", "log_d_range", "log_compute_range", "derivations"):
            data[name] = tuple(data[name])
        data["hull"] = tuple(tuple(vertex) for vertex in data.get("hull", ()))
        return cls(
            data=DataInfo(**data),
            sampler=SamplerInfo(**values.pop("sampler")),
            curves=CurveInfo(**_tuples(values.pop("curves"), "peak_lr")),
            vary=tuple(values.pop("vary")),
            **values,
        )

    @classmethod
    def from_format1(cls, meta: Mapping, log_n, log_d) -> FitInfo:
        """From the ``meta`` dictionary of file format 1 and the fitted points (format 1
        recorded neither the ranges in N and D nor the centre with the data; its earliest
        files lack the pooling's ``vary``, the curve settings and the extrapolation error,
        which then take the defaults that applied to them)."""
        meta = dict(meta)
        old = meta.pop("data")
        data = DataInfo.from_arrays(
            log_n,
            log_d,
            excluded=old["excluded"],
            source=old["source"],
            derivations=tuple(old["derivations"]),
        )
        sampler = {
            k: v
            for k, v in meta.pop("sampler").items()
            if k in {f.name for f in fields(SamplerInfo)}
        }
        curves = meta.pop("curves", {})
        meta.pop("centre", None)
        known = {f.name for f in fields(cls)}
        return cls(
            data=data,
            sampler=SamplerInfo(**sampler),
            curves=CurveInfo(runs=curves.get("runs", 0), min_fraction=curves.get("min_fraction")),
            vary=tuple(meta.pop("vary", ())),
            **{k: v for k, v in meta.items() if k in known},
        )


def _tuples(values: Mapping, *names: str) -> dict:
    """``values`` with its lists under ``names`` as tuples (JSON has no tuples)."""
    return {k: tuple(v) if k in names and v is not None else v for k, v in values.items()}
