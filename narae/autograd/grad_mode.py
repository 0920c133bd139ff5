"""Switching gradient recording on and off: ``no_grad``, ``enable_grad``, ``set_grad_enabled``.

Each works as a context manager and as a decorator, like torch's.
"""
import functools

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "inference_mode"]


class _State:
    __slots__ = ("enabled", "inference")

    def __init__(self):
        self.enabled = True
        self.inference = False  # inside inference_mode (is_inference_mode_enabled)


state = _State()


def is_grad_enabled():
    return state.enabled


class _GradModeContext:
    _mode = True

    def __enter__(self):
        self._prev = state.enabled
        state.enabled = self._mode

    def __exit__(self, *exc):
        state.enabled = self._prev
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return func(*args, **kwargs)
        return wrapper


class no_grad(_GradModeContext):
    """Do not record operations for backward (evaluation, optimizer updates)."""
    _mode = False


class enable_grad(_GradModeContext):
    """Record operations even inside ``no_grad``."""
    _mode = True


class inference_mode(no_grad):
    """``no_grad`` that also reports itself through ``is_inference_mode_enabled``."""

    def __init__(self, mode=True):
        self._mode = not mode
        self._inference = bool(mode)

    def __enter__(self):
        self._prev_inference = state.inference
        state.inference = self._inference
        super().__enter__()

    def __exit__(self, *exc):
        state.inference = self._prev_inference
        return super().__exit__(*exc)


class set_grad_enabled(_GradModeContext):
    """Set gradient recording on or off; as a plain call it sets the mode immediately."""

    def __init__(self, mode):
        self._mode = bool(mode)
        self._prev = state.enabled
        state.enabled = self._mode

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        state.enabled = self._prev
        return False
