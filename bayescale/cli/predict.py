r"""``bayescale predict``: the final loss of planned runs of ``N`` parameters on ``D`` tokens,
and what each run's shape costs against the compute-optimal one.

Per posterior draw, for a run ``(N, D)`` of compute ``C = 6ND``: its loss
(:meth:`~bayescale.Posterior.predict_loss`: the law with its error outside the fitted runs,
and a measured run's, with the noise), the loss of the optimum of the same compute
(:meth:`~bayescale.Posterior.optimal`), and the least compute whose optimal run reaches
the run's loss with the run's excess compute over it
(:meth:`~bayescale.Posterior.compute_to_match`), all on the same draws; with ``--gpu``
and ``--gpus``, its training time, GPU-hours, cost and memory per GPU
(:mod:`bayescale.cli.hardware`).
"""

from __future__ import annotations

from bayescale.cli import hardware
from bayescale.cli.output import blocks, emit, human, interval_table, records, table_row
from bayescale.cli.sources import (
    check_group,
    law_record,
    laws_in_words,
    print_finished_runs,
    print_weights,
    read_posterior,
)
from bayescale.ranges import positive_pairs

_ROWS = (
    ("loss_mean", "loss, the law", "nats/token"),
    ("loss_predictive", "a measured run's loss", "nats/token"),
    ("loss_opt", "optimum's loss, same FLOPs", "nats/token"),
    ("compute_opt", "optimum's FLOPs, same loss", "FLOPs"),
    ("compute_ratio", "excess compute", "C / C_opt"),
)


def _predicted(post, n, d, group):
    """:class:`~bayescale.draws.Draws` of the planned runs of ``n`` parameters on ``d``
    tokens (arrays of one length), dims ``(chain, draw, point)``: ``loss_mean`` and
    ``loss_predictive``, ``loss_opt`` at each run's compute ``6ND``, and ``compute_opt``
    and ``compute_ratio`` (module docstring); coordinate ``flops``. With no ``group`` for
    a per-group posterior, for every group it answers for, along a ``group`` dimension."""
    from bayescale.draws import Draws

    loss = post.predict_loss(n, d, group=group).dataset
    compute = 6 * n * d
    optimum = post.optimal(compute, group=group).dataset["loss_opt"]
    match = post.compute_to_match(n, d, group=group).dataset
    dataset = loss.assign(
        loss_opt=optimum.rename(budget="point").assign_coords(point=loss.point),
        compute_opt=match["compute_opt"],
        compute_ratio=match["compute_ratio"],
    )
    return Draws(dataset.assign_coords(flops=("point", compute)))


def cmd_predict(args) -> int:
    n, d = positive_pairs(
        args.n_params, args.n_tokens, "--n-params", "--n-tokens", "--n-params 7e9 --n-tokens 1.4e11"
    )
    hardware.check_complete(hardware.given(args))
    post, label = read_posterior(args, stacks=True)
    check_group(post, args.group, needed=args.gpu is not None)
    draws = _predicted(post, n, d, args.group)
    import pandas as pd

    table, p_fits = interval_table(draws, args.ci), None
    if args.gpu is not None:
        loss = draws["loss_mean"]
        n, d = (draws[k].broadcast_like(loss) for k in ("n_params", "n_tokens"))
        extra, p_fits = hardware.hardware_table(args, n, d, args.ci)
        table = pd.concat([table, extra], ignore_index=True)
    coords = draws.dataset.coords
    runs = pd.DataFrame({k: coords[k].values for k in ("point", "n_params", "n_tokens", "flops")})
    if args.json:
        emit(
            {
                "posterior": label,
                **law_record(post),
                "ci_prob": args.ci,
                "interval": "equal-tailed",
                "runs": runs.to_dict(orient="records"),
                "rows": records(table, args.ci),
                "p_fits_in_memory": p_fits,
            }
        )
        return 0
    size = draws.dataset.sizes["chain"] * draws.dataset.sizes["draw"]
    print(f"Final loss of planned runs, from the {label} ({laws_in_words(post)}, {size} draws)")
    print_weights(post)
    print_finished_runs(post)
    print(f"medians with {args.ci:.0%} equal-tailed credible intervals\n")
    if args.gpu is not None:
        print(hardware.describe(args) + "\n")
    by = ["group", "point"] if "group" in table.columns else ["point"]
    for key, rows in blocks(table, by):
        run = runs.iloc[key[-1]]
        group = f"group {key[0]}, " if len(by) == 2 else ""
        print(
            f"{group}{human(run.n_params, 'parameters')} parameters on "
            f"{human(run.n_tokens, 'tokens')} tokens ({run.n_tokens / run.n_params:.3g} tokens "
            f"per parameter, {run.flops:.3g} FLOPs)"
        )
        for quantity, name, unit in _ROWS:
            row = rows[rows["quantity"] == quantity].iloc[0]
            print(table_row(name, row, unit, args.ci, width=28))
        if p_fits is not None:
            hardware.print_rows(rows, args.ci, p_fits[run.point], width=28)
        print()
    return 0
