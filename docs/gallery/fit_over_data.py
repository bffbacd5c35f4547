"""Sweep points and the posterior compute-optimal frontier (Hoffmann et al. 2022, Fig. 2 left).

python docs/gallery/fit_over_data.py [--draws N] [--out DIR]
"""

from _gallery import options, reference, save

from bayescale.plotting import plot_fit

opts = options(__doc__)
post, sweep = reference(opts)
fig, ax = plot_fit(post, sweep)
save(fig, opts, "fit_over_data")
