"""``bayescale fit``: a posterior (or a stack of several laws' posteriors) from a sweep
file or a bundled dataset, written as NetCDF."""

from __future__ import annotations

import shlex
import sys
import time
import warnings
from pathlib import Path

from bayescale.cli.flags import command_flags, flag_syntax
from bayescale.cli.output import emit, paragraph
from bayescale.cli.sources import COLUMNS, sweep_source
from bayescale.errors import InputError
from bayescale.paths import check_output


def _fit_sweep(args):
    """The sweep ``fit`` reads: a file, or a bundled dataset (which ``--group`` may group
    by another of its columns)."""
    columns = {k: getattr(args, k) for k in (*COLUMNS, "group") if getattr(args, k)}
    return sweep_source(args.source, "source", columns, "--group", regroup=True)


def _posterior_file(args) -> Path:
    """``fit``'s ``-o``, checked before any work: not the sweep file it reads (even with
    ``--overwrite``), a file that can be written (:func:`~bayescale.paths.check_output`),
    and a ``.nc`` name, since a posterior is written as NetCDF."""
    source, out = Path(args.source), Path(args.output)
    if source.is_file() and out.is_file() and out.samefile(source):
        raise InputError(
            f"-o {args.output} is the sweep file being fitted ({args.source}); writing the "
            "posterior there would destroy the data. Choose another name, e.g. -o post.nc."
        )
    out = check_output(out, overwrite=args.overwrite, name="-o", replace_with="--overwrite")
    if out.suffix.lower() != ".nc":
        raise InputError(
            f"-o {out.name}: a posterior is written as NetCDF; use a .nc file name, e.g. "
            "-o post.nc."
        )
    return out


def _vary(text: str | None) -> tuple[str, ...] | None:
    """The parameter names of ``--vary`` (comma-separated, spaces around them allowed), or
    ``None`` when it is not given (every parameter varies)."""
    if text is None:
        return None
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    if not names:
        raise InputError(
            f"--vary {shlex.quote(text)} names no parameter; give comma-separated names, e.g. "
            "--vary e,alpha, or drop --vary to let every parameter vary by group."
        )
    return names


def cmd_fit(args) -> int:
    out = _posterior_file(args)
    if args.cuts is not None and len(args.law) < 2:
        raise InputError("--cuts weigh several laws; give two or more --law names, or drop --cuts.")
    sweep = _fit_sweep(args)
    settings = {
        "likelihood": args.likelihood,
        "pooling": args.pooling,
        "vary": _vary(args.vary),
        "centring": args.centring,
        "offset_groups": args.offset_groups,
        "checkpoints": args.checkpoints,
        "chains": args.chains,
        "warmup": args.warmup,
        "draws": args.draws,
        "seed": args.seed,
        "device": args.device,
    }
    if args.target_accept is not None:  # else bs.fit's default
        settings["target_accept"] = args.target_accept
    if args.extrapolation_error is not None:  # else the default, or a stack's learned one
        settings["extrapolation_error"] = args.extrapolation_error
    if len(args.law) > 1:
        return _fit_stack(args, out, sweep, settings)
    from bayescale.inference import fit  # JAX: after the quick checks

    post = fit(
        sweep,
        law=args.law[0],
        progress=False if args.quiet else None,  # a bar only on a terminal
        **settings,
    )
    post.save(out, overwrite=args.overwrite)
    summary = post.summary(ci_prob=0.9)
    if args.json:
        emit(
            {
                "wrote": str(out),
                "seconds": post.info.sampler.seconds,
                "warnings": [flag_syntax(w, command_flags(args)) for w in post.warnings],
                "summary": summary.to_dict(orient="index"),
            }
        )
        return 0
    print(f"wrote {out} ({post.info.sampler.seconds:.1f} s sampling)")
    print(summary.round(4).to_string())
    return 0


def _runs(cut, cuts) -> str:
    """The runs a fit of a stack saw: those below the ``cut``-th of ``cuts``, or all."""
    return "all runs" if cut == "all" else f"runs below cut {cuts[cut]:.3g}"


def _fit_stack(args, out, sweep, settings) -> int:
    """``fit`` with several ``--law``: :func:`bayescale.stack`, saved to ``out``, and its
    weights table."""
    from bayescale.evaluation.lfo import DEFAULT_CUTS
    from bayescale.stacking import stack

    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cuts = tuple(args.cuts or DEFAULT_CUTS)
        mixed = stack(sweep, args.law, cuts=cuts, **settings)
    seconds = time.perf_counter() - started
    mixed.save(out, overwrite=args.overwrite)
    table = mixed.summary()
    fits = mixed.lfo.attrs["fits"]
    # each fit's warnings, named by the law and the runs it was fitted to
    category = {str(w.message): w.category.__name__ for w in caught}
    warned = [
        (category.get(text, "Warning"), f"{f['law']}, {_runs(f['cut'], cuts)}", text)
        for f in fits
        for text in f["warnings"]
    ]
    named = {text for *_, text in warned}
    for w in caught:
        if str(w.message) not in named:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    if args.json:
        emit(
            {
                "wrote": str(out),
                "seconds": seconds,
                "fits": len(fits),
                "warnings": [
                    f"{kind} ({where}): {flag_syntax(text, command_flags(args))}"
                    for kind, where, text in warned
                ],
                "summary": table.to_dict(orient="index"),
            }
        )
        return 0
    for kind, where, text in warned:
        line = f"{kind} ({where}): {flag_syntax(text, command_flags(args))}"
        print(paragraph(line), file=sys.stderr)
    print(f"wrote {out} ({len(fits)} fits, {seconds:.1f} s)")
    print(table.round(4).to_string())
    return 0
