"""Which runs next: the candidates that most shrink the spread of N_opt at 1e24 FLOPs.

python docs/gallery/suggestions.py [--draws N] [--out DIR]
"""

from _gallery import options, posterior, save

import bayescale as bs
from bayescale.plotting import plot_suggestions

opts = options(__doc__)
post = posterior(opts)
result = bs.suggest_runs(post, target="n_opt", budget=1e24, max_compute=1e21, k=4)
fig, ax = plot_suggestions(post, result)
save(fig, opts, "suggestions")
