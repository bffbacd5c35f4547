"""Compute-optimal model size and data against compute, with Kaplan's and Chinchilla's slopes.

python docs/gallery/frontier.py [--draws N] [--out DIR]
"""

from _gallery import options, reference, save

from bayescale.plotting import plot_frontier

opts = options(__doc__)
post, _ = reference(opts)
fig, axes = plot_frontier(post)
save(fig, opts, "frontier")
