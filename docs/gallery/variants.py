"""Memory per GPU and train time of two data sets' compute-optimal models, rpj − c4_original.

    python docs/gallery/variants.py [--draws N] [--out DIR]

Uses the partial-pooling reference fit of Gadre et al. 2024's over-training sweep
(groups c4_original, rpj, rw_original); each group takes its own compute-optimal size at
2, 4 and 6 ×10^21 FLOPs on 16 H100s (FSDP).
"""

from _gallery import options, posterior, save

from bayescale.comparisons import compare_variants
from bayescale.plotting import plot_variants

opts = options(__doc__)
post = posterior(opts, "gadre_overtrain")
result = compare_variants(
    post, post, [2e21, 4e21, 6e21], hardware="H100", n_gpus=16, group_a="rpj", group_b="c4_original"
)
fig, axes = plot_variants(result)
save(fig, opts, "variants")
