"""The transport: one TCP connection between every pair of ranks, each read by a thread that
files incoming frames in a mailbox keyed by (source rank, message key).

A frame is a 4-byte length, a small JSON header (key, dtype, shape) and the raw array bytes.
Because every connection is drained continuously, two ranks sending to each other never
deadlock, and a collective simply waits for the keys it expects (with a timeout)."""
import json
import socket
import struct
import threading
import time
from collections import deque

import numpy as np

from .errors import DistBackendError, DistNetworkError

__all__ = []


def _recv_into(sock, view):
    got, n = 0, len(view)
    while got < n:
        k = sock.recv_into(view[got:])
        if k == 0:
            raise ConnectionError("connection closed")
        got += k


def _dtype_name(dt):
    return dt.name if dt.kind == "V" else dt.str


class Mesh:
    """Connections from this rank to every other rank of the world."""

    def __init__(self, store, rank, world_size, timeout, address):
        self.rank, self.world_size, self.timeout = rank, world_size, timeout
        self._socks, self._send_locks = {}, {}
        self._box = {}
        self._cond = threading.Condition()
        self._dead = {}
        self._closing = False
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("", 0))
        listener.listen(max(world_size, 1))
        store.set(f"mesh/{rank}", f"{address}:{listener.getsockname()[1]}")
        deadline = time.monotonic() + timeout
        try:
            for peer in range(rank):  # connect to the lower ranks, accept the higher ones
                host, port = store.get(f"mesh/{peer}").decode().rsplit(":", 1)
                s = self._connect(host, int(port), deadline, peer)
                s.sendall(struct.pack("!i", rank))
                self._add(peer, s)
            for _ in range(rank + 1, world_size):
                listener.settimeout(max(deadline - time.monotonic(), 0.01))
                try:
                    s, _ = listener.accept()
                except socket.timeout:
                    missing = [p for p in range(rank + 1, world_size) if p not in self._socks]
                    raise DistNetworkError(
                        f"init_process_group: rank {rank} timed out after {timeout:g} s "
                        f"waiting for ranks {missing} to connect") from None
                s.settimeout(None)
                buf = bytearray(4)
                _recv_into(s, memoryview(buf))
                self._add(struct.unpack("!i", buf)[0], s)
        finally:
            listener.close()
        for peer, s in self._socks.items():
            threading.Thread(target=self._reader, args=(peer, s), daemon=True,
                             name=f"narae-dist-recv-{peer}").start()

    def _connect(self, host, port, deadline, peer):
        while True:
            try:
                return socket.create_connection((host, port), timeout=5.0)
            except OSError as e:
                if time.monotonic() > deadline:
                    raise DistNetworkError(f"init_process_group: rank {self.rank} could not "
                                           f"connect to rank {peer} at {host}:{port}: {e}")
                time.sleep(0.05)

    def _add(self, peer, s):
        s.settimeout(None)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._socks[peer] = s
        self._send_locks[peer] = threading.Lock()

    def _reader(self, peer, s):
        head = bytearray(4)
        try:
            while True:
                _recv_into(s, memoryview(head))
                (n,) = struct.unpack("!I", head)
                meta = bytearray(n)
                _recv_into(s, memoryview(meta))
                key, dt, shape = json.loads(meta)
                arr = np.empty(shape, dtype=np.dtype(dt))
                if arr.nbytes:
                    _recv_into(s, memoryview(arr.reshape(-1).view(np.uint8)))
                with self._cond:
                    self._box.setdefault((peer, key), deque()).append(arr)
                    self._cond.notify_all()
        except (OSError, ConnectionError, ValueError) as e:
            with self._cond:
                self._dead[peer] = "closed its connection (did the process exit?)" \
                    if isinstance(e, ConnectionError) else str(e)
                self._cond.notify_all()

    def send(self, dst, key, array):
        """Send ``array`` (NumPy) to rank ``dst`` under ``key``."""
        shape = list(np.shape(array))
        a = np.ascontiguousarray(array)  # (0-d arrays come back 1-d: the header keeps shape)
        meta = json.dumps([key, _dtype_name(a.dtype), shape]).encode()
        s = self._socks[dst]
        try:
            with self._send_locks[dst]:
                s.sendall(struct.pack("!I", len(meta)) + meta)
                if a.nbytes:
                    s.sendall(memoryview(a.reshape(-1).view(np.uint8)))
        except OSError as e:
            raise DistBackendError(f"rank {self.rank}: sending to rank {dst} failed: {e}") \
                from None

    def recv(self, srcs, key, timeout, what):
        """(source, array) of the first message under ``key`` from one of ``srcs``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for src in srcs:
                    q = self._box.get((src, key))
                    if q:
                        arr = q.popleft()
                        if not q:
                            del self._box[(src, key)]
                        return src, arr
                dead = [s for s in srcs if s in self._dead]
                if dead and len(dead) == len(srcs):
                    raise DistBackendError(f"{what}: rank {self.rank} lost rank {dead[0]}: the "
                                           f"peer {self._dead[dead[0]]}")
                left = deadline - time.monotonic()
                if left <= 0:
                    who = srcs[0] if len(srcs) == 1 else f"any of ranks {list(srcs)}"
                    raise DistBackendError(f"{what}: rank {self.rank} timed out after "
                                           f"{timeout:g} s waiting for rank {who}")
                self._cond.wait(min(left, 1.0))

    def close(self):
        self._closing = True
        for s in self._socks.values():
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        self._socks = {}
