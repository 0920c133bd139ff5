"""Key-value stores for rendezvous: ``HashStore`` (in memory), ``TCPStore`` (a server thread
in the master process, clients over TCP), ``FileStore`` (a JSON file under an exclusive lock),
``PrefixStore``. Values are bytes; ``get``/``wait`` block until the keys exist or the timeout
passes (then ``DistStoreError``)."""
import base64
import json
import os
import socket
import struct
import threading
import time
from datetime import timedelta

from .errors import DistStoreError, DistNetworkError

__all__ = ["Store", "HashStore", "TCPStore", "FileStore", "PrefixStore"]

_DEFAULT_TIMEOUT = timedelta(seconds=300)


def _seconds(timeout):
    if timeout is None:
        return None
    return timeout.total_seconds() if isinstance(timeout, timedelta) else float(timeout)


def _as_bytes(value):
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, (list, tuple)):  # torch accepts a list of byte values
        return bytes(value)
    raise TypeError(f"Store: values must be str or bytes (got {type(value).__name__})")


class Store:
    """The store interface; subclasses implement ``_op`` over a dict of bytes."""

    def __init__(self):
        self._timeout = _DEFAULT_TIMEOUT

    @property
    def timeout(self):
        return self._timeout

    def set_timeout(self, timeout):
        self._timeout = timeout if isinstance(timeout, timedelta) else timedelta(seconds=timeout)

    # public API (torch.distributed.Store) -------------------------------------------------
    def set(self, key, value):
        self._op("set", key=key, value=_as_bytes(value))

    def get(self, key):
        """The value of ``key``, waiting up to the store's timeout for it to be set."""
        return self._op("get", key=key, timeout=_seconds(self._timeout))

    def add(self, key, amount):
        """Add ``amount`` to the integer counter at ``key`` (created at 0); the new value."""
        return int(self._op("add", key=key, amount=int(amount)))

    def append(self, key, value):
        self._op("append", key=key, value=_as_bytes(value))

    def compare_set(self, key, expected_value, desired_value):
        """Set ``key`` to ``desired_value`` when its value is ``expected_value`` (or it is
        missing and ``expected_value`` is empty); returns the value now held."""
        return self._op("compare_set", key=key, value=_as_bytes(expected_value),
                        desired=_as_bytes(desired_value))

    def wait(self, keys, timeout=None):
        """Block until every key in ``keys`` is set (DistStoreError after the timeout)."""
        keys = [keys] if isinstance(keys, str) else list(keys)
        t = _seconds(self._timeout if timeout is None else timeout)
        self._op("wait", keys=keys, timeout=t)

    def check(self, keys):
        keys = [keys] if isinstance(keys, str) else list(keys)
        return bool(self._op("check", keys=keys))

    def delete_key(self, key):
        return bool(self._op("delete", key=key))

    def num_keys(self):
        return int(self._op("num_keys"))

    def list_keys(self):
        return list(self._op("list_keys"))

    def multi_get(self, keys):
        return [self.get(k) for k in keys]

    def multi_set(self, keys, values):
        for k, v in zip(keys, values):
            self.set(k, v)

    def has_extended_api(self):
        return True


class _Table:
    """The dict behind HashStore and the TCPStore server, with blocking get/wait."""

    def __init__(self):
        self.data = {}
        self.cond = threading.Condition()

    def do(self, op, key=None, value=None, desired=None, amount=0, keys=None, timeout=None):
        with self.cond:
            data = self.data
            if op == "set":
                data[key] = value
                self.cond.notify_all()
                return None
            if op == "append":
                data[key] = data.get(key, b"") + value
                self.cond.notify_all()
                return None
            if op in ("get", "wait"):
                want = [key] if op == "get" else keys
                deadline = None if timeout is None else time.monotonic() + timeout
                while not all(k in data for k in want):
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        missing = [k for k in want if k not in data]
                        raise DistStoreError(f"Store.{op}: timed out after {timeout:g} s "
                                             f"waiting for keys {missing}")
                    self.cond.wait(left)
                return data[key] if op == "get" else None
            if op == "add":
                new = int(data.get(key, b"0")) + amount
                data[key] = str(new).encode()
                self.cond.notify_all()
                return new
            if op == "compare_set":
                cur = data.get(key)
                if (cur is None and value == b"") or cur == value:
                    data[key] = desired
                    self.cond.notify_all()
                    return desired
                return value if cur is None else cur
            if op == "check":
                return all(k in data for k in keys)
            if op == "delete":
                return data.pop(key, None) is not None
            if op == "num_keys":
                return len(data)
            if op == "list_keys":
                return list(data)
        raise ValueError(f"Store: unknown operation {op!r}")


class HashStore(Store):
    """A thread-safe in-memory store (for threads of one process)."""

    def __init__(self):
        super().__init__()
        self._table = _Table()

    def _op(self, op, **kw):
        return self._table.do(op, **kw)


# -- TCPStore --------------------------------------------------------------------------------
def _send_msg(sock, obj):
    body = json.dumps(obj).encode()
    sock.sendall(struct.pack("!I", len(body)) + body)


def _recv_exact(sock, n):
    buf = bytearray(n)
    view, got = memoryview(buf), 0
    while got < n:
        k = sock.recv_into(view[got:])
        if k == 0:
            raise ConnectionError("connection closed by peer")
        got += k
    return buf


def _recv_msg(sock):
    (n,) = struct.unpack("!I", _recv_exact(sock, 4))
    return json.loads(_recv_exact(sock, n))


def _b64(b):
    return None if b is None else base64.b64encode(b).decode()


def _unb64(s):
    return None if s is None else base64.b64decode(s)


class _StoreServer:
    """Accepts clients and answers their requests from one _Table (a thread per client)."""

    def __init__(self, host, port):
        self.table = _Table()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind(("", port))
        except OSError as e:
            self.sock.close()
            raise DistNetworkError(f"TCPStore: cannot listen on port {port}: {e}") from None
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True, name="narae-store-server").start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        with conn:
            while True:
                try:
                    req = _recv_msg(conn)
                except (ConnectionError, OSError, ValueError):
                    return
                kw = {k: req[k] for k in ("key", "amount", "keys", "timeout") if k in req}
                if "value" in req:
                    kw["value"] = _unb64(req["value"])
                if "desired" in req:
                    kw["desired"] = _unb64(req["desired"])
                try:
                    out = self.table.do(req["op"], **kw)
                    if isinstance(out, (bytes, bytearray)):
                        reply = {"b": _b64(out)}
                    else:
                        reply = {"v": out}
                except DistStoreError as e:
                    reply = {"error": str(e)}
                try:
                    _send_msg(conn, reply)
                except OSError:
                    return

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


_servers = {}  # port -> _StoreServer: servers live as long as the process


class TCPStore(Store):
    """A store served by the master process (``is_master=True`` starts the server thread)
    and reached by every process over TCP at ``host_name:port``.

    ``port=0`` on the master picks a free port (read it back from ``.port``).
    """

    def __init__(self, host_name, port, world_size=None, is_master=False,
                 timeout=_DEFAULT_TIMEOUT, wait_for_workers=True, multi_tenant=False,
                 master_listen_fd=None, use_libuv=True):
        super().__init__()
        self.set_timeout(timeout)
        self._host, self._server = host_name, None
        if is_master:  # a server this process already runs on that port is reused
            self._server = _servers.get(int(port)) if port else None
            if self._server is None:
                self._server = _StoreServer(host_name, port)
                _servers[self._server.port] = self._server
            port = self._server.port
        self._port = int(port)
        self._lock = threading.Lock()
        self._sock = self._connect(_seconds(self._timeout))
        if is_master and wait_for_workers and world_size:
            self.add("__narae_store_workers", 1)
            self._wait_count("__narae_store_workers", world_size)
        elif world_size and wait_for_workers:
            self.add("__narae_store_workers", 1)

    def _wait_count(self, key, n):
        deadline = time.monotonic() + _seconds(self._timeout)
        while self.add(key, 0) < n:
            if time.monotonic() > deadline:
                raise DistStoreError(f"TCPStore: timed out waiting for {n} workers to join")
            time.sleep(0.01)

    def _connect(self, timeout):
        deadline = time.monotonic() + timeout
        last = None
        while True:
            try:
                s = socket.create_connection((self._host, self._port), timeout=2.0)
                if s.getsockname() == s.getpeername():
                    # TCP simultaneous open: with no server yet, the kernel gave the client
                    # the server's own port and connected it to itself. Not the store.
                    s.close()
                    raise ConnectionRefusedError("connected to itself (no server yet)")
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                s.settimeout(None)
                return s
            except OSError as e:  # the master may not be listening yet: retry until timeout
                last = e
            if time.monotonic() > deadline:
                raise DistNetworkError(f"TCPStore: could not connect to {self._host}:"
                                       f"{self._port} within {timeout:g} s ({last})")
            time.sleep(0.05)

    @property
    def host(self):
        return self._host

    @property
    def port(self):
        return self._port

    def _local_address(self):
        return self._sock.getsockname()[0]

    def _op(self, op, **kw):
        req = {"op": op}
        for k, v in kw.items():
            req[k] = _b64(v) if k in ("value", "desired") else v
        t = kw.get("timeout")
        with self._lock:
            try:
                self._sock.settimeout(None if t is None else t + 10.0)
                _send_msg(self._sock, req)
                reply = _recv_msg(self._sock)
            except (OSError, ConnectionError) as e:
                raise DistNetworkError(f"TCPStore.{op}: lost the connection to "
                                       f"{self._host}:{self._port} ({e})") from None
        if "error" in reply:
            raise DistStoreError(reply["error"])
        return _unb64(reply["b"]) if "b" in reply else reply["v"]

    def __del__(self):
        try:
            self._sock.close()
        except Exception:
            pass


# -- FileStore -------------------------------------------------------------------------------
class FileStore(Store):
    """A store in a file shared by the processes (one JSON document, edited under ``flock``)."""

    def __init__(self, file_name, world_size=-1):
        super().__init__()
        self.path = file_name
        self._world_size = world_size
        fd = os.open(file_name, os.O_RDWR | os.O_CREAT, 0o644)
        os.close(fd)

    def _locked(self, fn):
        import fcntl
        with open(self.path, "r+b") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                raw = f.read()
                data = {k: _unb64(v) for k, v in json.loads(raw).items()} if raw else {}
                out, changed = fn(data)
                if changed:
                    f.seek(0)
                    f.truncate()
                    f.write(json.dumps({k: _b64(v) for k, v in data.items()}).encode())
                    f.flush()
                return out
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def _op(self, op, key=None, value=None, desired=None, amount=0, keys=None, timeout=None):
        if op in ("get", "wait"):
            want = [key] if op == "get" else keys
            deadline = None if timeout is None else time.monotonic() + timeout
            delay = 0.001
            while True:
                got = self._locked(lambda d: ([d.get(k) for k in want], False))
                if all(v is not None for v in got):
                    return got[0] if op == "get" else None
                if deadline is not None and time.monotonic() > deadline:
                    missing = [k for k, v in zip(want, got) if v is None]
                    raise DistStoreError(f"FileStore.{op}: timed out after {timeout:g} s "
                                         f"waiting for keys {missing}")
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
        table = _Table()

        def run(d):
            table.data = d
            before = dict(d)
            out = table.do(op, key=key, value=value, desired=desired, amount=amount, keys=keys)
            return out, d != before
        return self._locked(run)


class PrefixStore(Store):
    """Every key of ``store`` seen through ``prefix + "/"``."""

    def __init__(self, prefix, store):
        super().__init__()
        self._prefix, self.underlying_store = prefix, store
        self._timeout = store.timeout

    def _k(self, key):
        return f"{self._prefix}/{key}"

    def _op(self, op, key=None, keys=None, **kw):
        if key is not None:
            kw["key"] = self._k(key)
        if keys is not None:
            kw["keys"] = [self._k(k) for k in keys]
        if op == "num_keys":
            return len(self._op("list_keys"))
        if op == "list_keys":
            p = self._prefix + "/"
            return [k[len(p):] for k in self.underlying_store._op("list_keys")
                    if k.startswith(p)]
        return self.underlying_store._op(op, **kw)
