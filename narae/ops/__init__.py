"""Differentiable primitives, one module per family (arith, reduce, shape, index, linalg...)."""
