"""The exception types of ``narae.distributed`` (torch.distributed's names)."""

__all__ = ["DistError", "DistBackendError", "DistNetworkError", "DistStoreError"]


class DistError(RuntimeError):
    """Any error raised by narae.distributed."""


class DistBackendError(DistError):
    """A collective failed: a peer died, closed its connection, or the timeout passed."""


class DistNetworkError(DistError):
    """A connection could not be made or was lost."""


class DistStoreError(DistError):
    """A store operation failed or timed out."""
