"""Differentiable FFT Functions behind ``narae.fft``."""

__all__ = []
