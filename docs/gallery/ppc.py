"""Observed against posterior-predictive loss; the 5 rows left out of the fit are held out.

python docs/gallery/ppc.py [--draws N] [--out DIR]
"""

from _gallery import options, reference, save

from bayescale.plotting import plot_ppc

opts = options(__doc__)
post, sweep = reference(opts)
held_out = sweep.frame[sweep.frame["excluded"]]
fig, ax = plot_ppc(post, holdout=held_out)
save(fig, opts, "ppc")
