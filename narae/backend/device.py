"""``Device``: where a tensor's memory lives ('cpu' or 'cuda:N'), mirroring ``torch.device``."""

__all__ = ["Device", "as_device", "cpu"]


class Device:
    __slots__ = ("type", "index")

    def __init__(self, type, index=None):
        if isinstance(type, Device):
            type, index = type.type, type.index
        elif isinstance(type, str) and ":" in type:
            type, _, idx = type.partition(":")
            try:
                index = int(idx)
            except ValueError:
                raise ValueError(f"invalid device string {type}:{idx!r}") from None
        if type not in ("cpu", "cuda"):
            raise ValueError(f"unknown device type {type!r}: expected 'cpu' or 'cuda'")
        if type == "cuda" and index is None:
            index = 0
        self.type = type
        self.index = index

    def __eq__(self, other):
        if isinstance(other, str):
            other = Device(other)
        return isinstance(other, Device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self):
        return hash((self.type, self.index))

    def __repr__(self):
        return f"device(type='{self.type}')" if self.index is None else \
            f"device(type='{self.type}', index={self.index})"

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"


cpu = Device("cpu")


def as_device(device):
    """Normalise None/str/int/Device to a Device (None means the CPU; an int means cuda:int)."""
    if device is None:
        return cpu
    if isinstance(device, Device):
        return device
    if isinstance(device, int) and not isinstance(device, bool):
        return Device("cuda", device)
    return Device(device)
