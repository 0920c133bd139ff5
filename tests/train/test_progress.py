"""The progress bar: plain lines off a terminal, throttled in-place redraws on one."""
import io

from narae.train.progress import ProgressBar, format_value


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


def test_non_tty_prints_one_plain_line_per_epoch():
    out = io.StringIO()
    for epoch in range(2):
        bar = ProgressBar(10, epoch, 2, stream=out)
        for step in range(1, 11):
            bar.update(step, {"loss": 1.0 / step, "accuracy": 0.5}, 8)
        bar.finish({"loss": 0.1, "accuracy": 0.5, "val_loss": 0.2, "lr": 0.01})
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert "\r" not in out.getvalue() and "[" not in out.getvalue()
    assert lines[0].startswith("Epoch 1/2 - 10/10 - ")
    assert "ex/s" in lines[0] and lines[0].endswith(
        "loss: 0.1000 - accuracy: 0.5000 - val_loss: 0.2000")
    assert lines[1].startswith("Epoch 2/2")


def test_tty_redraws_in_place_at_most_every_interval():
    out = FakeTTY()
    bar = ProgressBar(1000, 0, 1, stream=out, interval=3600)
    for step in range(1, 1001):
        bar.update(step, {"loss": 0.5}, 4)
    bar.finish({"loss": 0.5, "val_loss": 0.25})
    text = out.getvalue()
    assert text.startswith("Epoch 1/1\n")
    # the first update draws, the rest fall inside the interval except the last step
    assert text.count("\r") == 3
    assert "1000/1000 [==============================]" in text
    assert "ETA" in text and text.endswith("val_loss: 0.2500\n")


def test_unknown_total_and_formatting():
    out = FakeTTY()
    bar = ProgressBar(None, None, None, stream=out, interval=0)
    bar.update(3, {"loss": 2e-5}, 3)
    bar.finish({"loss": 2e-5})
    assert "3 steps" in out.getvalue() and "2.000e-05" in out.getvalue()
    assert format_value(0.5) == "0.5000" and format_value(123456.0) == "1.235e+05"


def test_verbose_2_is_one_line_even_on_a_tty():
    out = FakeTTY()
    bar = ProgressBar(5, 0, 3, stream=out, verbose=2)
    for s in range(1, 6):
        bar.update(s, {"loss": 1.0}, 1)
    bar.finish({"loss": 1.0})
    assert out.getvalue().count("\n") == 1 and "\r" not in out.getvalue()
