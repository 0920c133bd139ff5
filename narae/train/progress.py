"""A per-epoch progress bar: steps, ETA, running loss/metrics and examples per second.

On a terminal it redraws one line in place, at most every ``interval`` seconds (drawing is
slow next to a small training step). When the stream is not a terminal (a log file, CI,
a pipe) it prints one plain line per epoch instead, so logs stay readable::

    Epoch 3/10 - 45/45 - 0.4s - 3412 ex/s - loss: 0.2154 - accuracy: 0.9420 - val_loss: ...
"""
import sys
import time

__all__ = ["ProgressBar", "format_logs", "format_value"]


def format_value(v):
    try:
        v = float(v)
    except (TypeError, ValueError):
        return str(v)
    if v != 0 and abs(v) < 1e-3 or abs(v) >= 1e5:
        return f"{v:.3e}"
    return f"{v:.4f}"


def format_logs(logs, skip=("lr", "size", "batch_loss")):
    return " - ".join(f"{k}: {format_value(v)}" for k, v in logs.items() if k not in skip)


def _format_time(seconds):
    seconds = max(0.0, seconds)
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    m, s = divmod(int(round(seconds)), 60)
    if m < 60:
        return f"{m}:{s:02d}"
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}"


class ProgressBar:
    """Progress of one epoch. ``update(step, logs, examples)`` after each batch, then ``finish``.

    ``total`` is the number of steps (``None`` when unknown). ``tty=None`` asks the stream.
    ``verbose=2`` forces the one-line-per-epoch form even on a terminal.
    """

    def __init__(self, total, epoch=None, epochs=None, stream=None, width=30, interval=0.05,
                 tty=None, verbose=1):
        self.total = total
        self.stream = stream if stream is not None else sys.stdout
        if tty is None:
            isatty = getattr(self.stream, "isatty", None)
            tty = bool(isatty and isatty())
        self.tty = tty and verbose == 1
        self.width = width
        self.interval = interval
        self.title = f"Epoch {epoch + 1}/{epochs}" if epoch is not None and epochs else \
            (f"Epoch {epoch + 1}" if epoch is not None else "")
        self.start = time.monotonic()
        self._last_draw = -float("inf")  # the first update always draws
        self._line_len = 0
        self.step = 0
        self.examples = 0
        if self.tty and self.title:
            self.stream.write(self.title + "\n")
            self.stream.flush()

    def _rate(self, now):
        elapsed = now - self.start
        return self.examples / elapsed if elapsed > 0 else 0.0

    def _bar(self, now, logs, final=False):
        elapsed = now - self.start
        parts = []
        if self.total:
            digits = len(str(self.total))
            done = min(self.step / self.total, 1.0)
            filled = int(self.width * done)
            arrow = ">" if filled < self.width else ""
            bar = "=" * filled + arrow + "." * (self.width - filled - len(arrow))
            parts.append(f"{self.step:>{digits}}/{self.total} [{bar}]")
        else:
            parts.append(f"{self.step} steps")
        if final or not self.total:
            parts.append(_format_time(elapsed))
        else:
            eta = elapsed / self.step * (self.total - self.step) if self.step else 0.0
            parts.append(f"ETA: {_format_time(eta)}")
        parts.append(f"{self._rate(now):.0f} ex/s")
        text = format_logs(logs)
        if text:
            parts.append(text)
        return " - ".join(parts)

    def update(self, step, logs, examples=0):
        """Record that ``step`` steps are done; redraw if on a TTY and enough time passed."""
        self.step = step
        self.examples += examples
        if not self.tty:
            return
        now = time.monotonic()
        if now - self._last_draw < self.interval and step != self.total:
            return
        self._last_draw = now
        self._draw(self._bar(now, logs))

    def _draw(self, line):
        pad = max(0, self._line_len - len(line))
        self.stream.write("\r" + line + " " * pad)
        self.stream.flush()
        self._line_len = len(line)

    def finish(self, logs):
        """Print the epoch's final state (with validation values) and end the line."""
        now = time.monotonic()
        if self.tty:
            self._draw(self._bar(now, logs, final=True))
            self.stream.write("\n")
        else:
            steps = f"{self.step}/{self.total}" if self.total else f"{self.step} steps"
            parts = [p for p in (self.title, steps, _format_time(now - self.start),
                                 f"{self._rate(now):.0f} ex/s", format_logs(logs)) if p]
            self.stream.write(" - ".join(parts) + "\n")
        self.stream.flush()
