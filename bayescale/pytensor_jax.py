"""JAX functions as PyTensor Ops, for :mod:`bayescale.pymc_frontend` (needs PyTensor).

:func:`jax_op` is ``pytensor.wrap_jax`` — the function runs forward through its
``jax.jit`` and is differentiated with ``jax.vjp`` — on a :class:`JAXFunctionOp`, which
changes two things for PyMC:

* **one VJP per gradient.** PyMC takes a model's gradient one variable at a time, a
  ``pt.grad`` each (``pymc.pytensorf.gradient``), and ``JAXOp.grad`` makes a new VJP Op
  each time, which PyTensor cannot merge with the others (Ops are equal by their function,
  a new closure each time). A gradient would run the law's VJP once per variable upstream
  of it: 5 times for Chinchilla's law, 15 for its partially pooled form (13× the time of
  one there). A :class:`JAXFunctionOp` makes its VJP Op once, so the copies merge into
  one.
* **its own precision.** JAX computes in float32 unless its process-wide
  ``jax_enable_x64`` flag is on, and would round a float64 model's law to float32. An Op
  with float64 outputs turns the flag on for its own calls only (``jax.enable_x64``), so
  the flag stays as the user set it, and a process PyMC spawns to run a chain computes in
  float64 too. (PyTensor's JAX backend, as nutpie's ``backend="jax"`` uses
  it, sets the flag from ``pytensor.config.floatX`` itself.)
"""

from __future__ import annotations

import jax
from pytensor import wrap_jax
from pytensor.gradient import DisconnectedType
from pytensor.link.jax.ops import JAXOp


class JAXFunctionOp(JAXOp):
    """A ``JAXOp`` that computes at its outputs' precision and whose gradient is one VJP
    Op per pattern of connected outputs (module docstring)."""

    def __init__(self, input_types, output_types, jax_function, name=None):
        super().__init__(input_types, output_types, jax_function, name)
        self.x64 = any(t.dtype == "float64" for t in self.output_types)
        self.vjps = {}

    def perform(self, node, inputs, outputs):
        with jax.enable_x64(self.x64):
            super().perform(node, inputs, outputs)

    def grad(self, inputs, output_gradients):
        made = super().grad(inputs, output_gradients)[0].owner
        connected = tuple(
            i for i, g in enumerate(output_gradients) if not isinstance(g.type, DisconnectedType)
        )
        if connected not in self.vjps:
            op = made.op
            self.vjps[connected] = JAXFunctionOp(
                op.input_types, op.output_types, op.jax_func, op.name
            )
        return self.vjps[connected](*made.inputs, return_list=True)


def jax_op(function):
    """``function`` (pure JAX, pytrees of arrays in and out) as a function of PyTensor
    variables, as ``pytensor.wrap_jax(function)`` makes it, on a :class:`JAXFunctionOp`;
    traced in float64 where any input is float64."""
    wrapped = wrap_jax(function)

    def apply(*args):
        x64 = any(getattr(v, "dtype", None) == "float64" for v in jax.tree.leaves(args))
        with jax.enable_x64(x64):
            leaves, tree = jax.tree.flatten(wrapped(*args))
        node, made = leaves[0].owner, leaves[0].owner.op
        op = JAXFunctionOp(made.input_types, made.output_types, made.jax_func, made.name)
        return jax.tree.unflatten(tree, op(*node.inputs, return_list=True))

    return apply
