"""Training curves, their envelope and the frontier of finished runs (Hoffmann et al. 2022, Fig. 2).

python docs/gallery/fit_over_data.py [--draws N] [--out DIR] [--posterior FILE]
"""

from _gallery import options, posterior, save

from bayescale.plotting import plot_training_curves
from bayescale.reference import reference_sweep

opts = options(__doc__)
post = posterior(opts, "misfitting")
fig, ax = plot_training_curves(post, reference_sweep("misfitting"))
save(fig, opts, "fit_over_data")
