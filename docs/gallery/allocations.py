"""Loss along training of a Kaplan-sized and a compute-optimal model sharing 1e21 FLOPs.

    python docs/gallery/allocations.py [--draws N] [--out DIR]

A is 4.68e9 parameters (Kaplan et al. 2020's allocation at 1e21 FLOPs, as in Hoffmann et
al. 2022, Fig. A4); B is the posterior median of this fit's compute-optimal size at the
same budget. The dashed line is this fit's median optimal loss L*(1e21).
"""

from _gallery import options, posterior, save

from bayescale.comparisons import compare_allocations
from bayescale.plotting import plot_allocations

BUDGET = 1e21
KAPLAN_SIZE = 4.68e9

opts = options(__doc__)
post = posterior(opts)
optimum = post.optimal(BUDGET)
n_opt = float(optimum["n_opt"].median())
result = compare_allocations(
    post, BUDGET, KAPLAN_SIZE, n_opt, labels=("Kaplan", "Chinchilla"), points=60
)
print(
    f"B = N_opt(1e21 FLOPs) = {n_opt:.3g} parameters; P(L_B < L_A) = "
    f"{result.dataset.attrs['p_b_lower']:.3f}"
)
fig, axes = plot_allocations(result, target_loss=float(optimum["loss_opt"].median()))
save(fig, opts, "allocations")
