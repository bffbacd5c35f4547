"""Exceptions and warnings that bayescale raises.

Errors say what was expected, what was found, and how to fix it. Every error about the
caller's input derives from :class:`InputError` (a ``ValueError``; :class:`InputTypeError`
is also a ``TypeError``), so that the command line can tell a user's mistake, which it
prints as one paragraph, from a bug, which it shows with its traceback. Warnings are
attached to results as well as emitted, so that nothing about a fit is hidden.
"""


class BayescaleError(Exception):
    """Base of the errors bayescale raises on purpose."""


class InputError(BayescaleError, ValueError):
    """An argument, table, file or setting cannot be used as given: the message names it
    and the fix."""


class InputTypeError(InputError, TypeError):
    """An argument has the wrong type: the message names the type expected."""


class SweepValidationError(InputError):
    """The sweep table cannot be used as given: the message names the column, the rows and
    the fix."""


class PosteriorFileError(InputError):
    """A posterior file is missing, corrupted, or was written for another law or version."""


class SweepWarning(UserWarning):
    """A fit left rows out by its own rule (early checkpoints of training curves), or a
    column looks implausible or misspelt. Exclusions the caller states do not warn."""


class ConvergenceWarning(UserWarning):
    """NUTS diagnostics (divergences, R-hat, ESS, tree depth) show a sampling problem, or an
    optimiser (the Huber baseline's L-BFGS) stopped short of a proper minimum."""


class StartWarning(ConvergenceWarning):
    """NUTS could not start from the posterior's mode (the Laplace start found none) and
    starts from the prior instead: the message says why and what to try."""


class ExtrapolationWarning(UserWarning):
    """A query lies far outside the model sizes, token counts or compute that the
    posterior was fitted on."""


class PlanningWarning(UserWarning):
    """Part of a planning answer is not a number: a size or loss that can never be reached
    (inf), or one beyond the range searched (NaN, or the range's edge)."""


class MemoryWarning(UserWarning):
    """A planned or predicted run does not fit in the accelerator's memory in too many
    draws: the message says which, how often, and the smallest tensor-parallel degree or
    GPU count that fits."""


class ComparisonWarning(UserWarning):
    """PSIS-LOO is unreliable for some points (Pareto k > 0.7): the comparison may be off."""


class PerformanceWarning(UserWarning):
    """A fit will run slower than it could, for a reason the user can fix (the warning says
    how), e.g. JAX started before bayescale could give each chain a CPU device."""


class MisfitWarning(UserWarning):
    """The fitted model's structure disagrees with the data: per-run effects that should be
    independent of N and D trend with them (the message says what it suggests)."""


class PriorDominatedWarning(UserWarning):
    """The data barely narrowed some parameters: their posterior is mostly the prior."""
