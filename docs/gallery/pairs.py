"""Posterior pair plot of E, alpha, beta and a = beta/(alpha+beta).

python docs/gallery/pairs.py [--draws N] [--out DIR]
"""

from _gallery import options, reference, save

from bayescale.plotting import plot_pairs

opts = options(__doc__)
post, _ = reference(opts)
fig, axes = plot_pairs(post)
save(fig, opts, "pairs")
