"""Loss against model size at fixed compute and at fixed tokens (Kaplan et al. 2020, Fig. 4).

python docs/gallery/loss_vs_params.py [--draws N] [--out DIR]
"""

from _gallery import options, reference, save

from bayescale.plotting import plot_loss_vs_params

opts = options(__doc__)
post, _ = reference(opts)
fig, axes = plot_loss_vs_params(post)
save(fig, opts, "loss_vs_params")
