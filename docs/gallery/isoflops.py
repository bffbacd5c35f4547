"""Iso-FLOP profiles with the sweep's runs and the posterior optimum of each budget.

python docs/gallery/isoflops.py [--draws N] [--out DIR]
"""

from _gallery import options, reference, save

from bayescale.plotting import plot_isoflops

opts = options(__doc__)
post, sweep = reference(opts)
fig, ax = plot_isoflops(post, sweep)
save(fig, opts, "isoflops")
