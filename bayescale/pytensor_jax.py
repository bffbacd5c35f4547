"""JAX functions as PyTensor Ops, for :mod:`bayescale.pymc_model` (needs PyTensor).

:func:`jax_op` is ``pytensor.wrap_jax`` — the function is called forward through its
``jax.jit`` and differentiated with ``jax.vjp`` — with one change for PyMC: PyMC takes a
model's gradient one variable at a time, a ``pt.grad`` each (``pymc.pytensorf.gradient``),
and each ``JAXOp.grad`` makes a new VJP Op, which PyTensor cannot merge with the others (an
Op is equal to another by its function, a new closure each time). A gradient would then run
the VJP once per model variable: 7 times for Chinchilla's law, 15 for its partially pooled
form. :class:`SharedVJPOp` makes its VJP Op once, so the copies merge into one.
"""

from __future__ import annotations

import jax
from pytensor import wrap_jax
from pytensor.link.jax.ops import JAXOp


class SharedVJPOp(JAXOp):
    """A ``JAXOp`` whose gradient is one VJP Op per pattern of connected outputs."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.vjps = {}

    def grad(self, inputs, output_gradients):
        node = super().grad(inputs, output_gradients)[0].owner
        vjp = self.vjps.setdefault(node.op.input_types, node.op)
        return vjp(*node.inputs, return_list=True)


def jax_op(function):
    """``function`` (pure JAX, pytrees in and out) as a function of PyTensor variables, as
    ``pytensor.wrap_jax(function)`` makes it, on a :class:`SharedVJPOp`."""
    wrapped = wrap_jax(function)

    def apply(*args):
        leaves, tree = jax.tree.flatten(wrapped(*args))
        node = leaves[0].owner
        op = SharedVJPOp(node.op.input_types, node.op.output_types, node.op.jax_func, node.op.name)
        return jax.tree.unflatten(tree, op(*node.inputs, return_list=True))

    return apply
