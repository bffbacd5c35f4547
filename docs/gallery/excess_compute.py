"""Excess compute and tokens of a model that is not the compute-optimal size, at 1e22 FLOPs.

python docs/gallery/excess_compute.py [--draws N] [--out DIR]
"""

from _gallery import options, posterior, save

from bayescale.plotting import plot_excess_compute

opts = options(__doc__)
post = posterior(opts)
fig, axes = plot_excess_compute(post, 1e22)
save(fig, opts, "excess_compute")
