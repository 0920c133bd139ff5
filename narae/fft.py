"""``narae.fft``: discrete Fourier transforms (torch.fft's API)."""

__all__ = []
