"""A default fit of a small ladder converges (issue 18, item 5).

The ladders are public: Gadre et al.'s four smallest sizes (11M–412M parameters) × five
token multipliers (0.5–8× Chinchilla's 20 tokens per parameter), final losses, one ladder
per training corpus, 20 points each. Over about 1.6 decades of N, the data measure the
loss at the ladder's centre and its slopes well and the split between ``E`` and ``A/N^α``
poorly, the curved ridge that the law's level coordinates straighten
(:mod:`bayescale.laws.law`). Sampled on ``(e, a_c, α)`` these fits took 50–100 leapfrog
steps per draw, R-hat up to 1.036 and tail ESS down to 36 at ``target_accept=0.9``.
"""

import warnings

import pytest

import bayescale as bs

pytestmark = pytest.mark.slow

SIZES = 4  # the ladder: 4 sizes × 5 token multipliers
MULTIPLIERS = (0.5, 1.0, 2.0, 4.0, 8.0)
R_HAT = 1.01  # the criterion (and the fit's own warning threshold)
# Divergent transitions allowed per fit of 4 × 1000 draws: at most one, a single rare
# step at the far end of the E–α ridge (seen once in nine fits of these ladders, seeds
# 0–2); a systematic problem, as before the level coordinates, gives several per fit.
DIVERGENCES = 1


def _ladder(corpus: str) -> bs.Sweep:
    frame = bs.load_dataset("gadre_overtrain").frame
    sizes = sorted(frame["n_params"].unique())[:SIZES]
    keep = (
        (frame["group"] == corpus)
        & frame["n_params"].isin(sizes)
        & frame["chinchilla_multiplier"].isin(MULTIPLIERS)
    )
    rows = frame.loc[keep, ["n_params", "n_tokens", "loss"]].reset_index(drop=True)
    assert len(rows) == SIZES * len(MULTIPLIERS)
    return bs.Sweep.from_frame(rows)


@pytest.mark.parametrize("corpus", ["c4_original", "rpj", "rw_original"])
def test_a_default_fit_of_a_small_ladder_converges(corpus):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ExtrapolationWarning)
        post = bs.fit(_ladder(corpus), progress=False)  # every setting the default
    summary = post.summary()
    divergences = int(post.groups["sample_stats"]["diverging"].sum())
    print(corpus, "max R-hat", summary["r_hat"].max(), "divergences", divergences)
    assert summary["r_hat"].max() <= R_HAT
    assert divergences <= DIVERGENCES
