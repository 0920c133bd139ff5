"""Short-time Fourier transforms (``stft``/``istft``) built on ``narae.fft``."""

__all__ = []
