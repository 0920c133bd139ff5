"""``SparseGrad``: a gradient that is zero except at an index, added lazily.

Indexing one time step at a time (``x[:, t]`` for every t) would otherwise make every
slice's backward allocate a full-size zero gradient. An op's backward may instead return a
SparseGrad (when no graph is being recorded); the engine scatters all of them into a single
buffer per tensor (see ``engine.Accumulator``).
"""

__all__ = ["SparseGrad"]


class SparseGrad:
    __slots__ = ("shape", "dtype", "xp", "index", "values", "repeated")

    def __init__(self, shape, dtype, xp, index, values, repeated=False):
        """``values`` (an array) go to ``buffer[index]``; ``repeated``: the index may repeat
        (advanced indexing), so additions must accumulate (``xp.add.at``)."""
        self.shape, self.dtype, self.xp = tuple(shape), dtype, xp
        self.index, self.values, self.repeated = index, values, repeated

    def scatter_into(self, buffer):
        if self.repeated:
            if self.xp.__name__ == "numpy":
                self.xp.add.at(buffer, self.index, self.values)
            else:
                import cupyx
                if buffer.dtype.kind == "c":  # no complex atomicAdd in CUDA: the parts one by one
                    values = self.xp.asarray(self.values, dtype=buffer.dtype)
                    cupyx.scatter_add(buffer.real, self.index, values.real)
                    cupyx.scatter_add(buffer.imag, self.index, values.imag)
                else:
                    cupyx.scatter_add(buffer, self.index, self.values)
        else:
            buffer[self.index] += self.values

    def dense(self):
        buffer = self.xp.zeros(self.shape, self.dtype)
        self.scatter_into(buffer)
        return buffer
