"""``narae.multiprocessing``: Python's multiprocessing API plus torch's ``spawn``.

``spawn(fn, args, nprocs)`` starts ``nprocs`` processes running ``fn(i, *args)``; an exception
in a child is raised in the parent as ``ProcessRaisedException`` carrying the child's
traceback text, a child that dies without one as ``ProcessExitedException``.
"""
import multiprocessing
import multiprocessing.connection
import signal
import sys
import time
import traceback
from multiprocessing import (Array, AuthenticationError, Barrier, BoundedSemaphore,  # noqa: F401
                             BufferTooShort, Condition, Event, JoinableQueue, Lock, Manager,
                             Pipe, Pool, Process, ProcessError, Queue, RLock, RawArray,
                             RawValue, Semaphore, SimpleQueue, TimeoutError, Value,
                             active_children, allow_connection_pickling, cpu_count,
                             current_process, freeze_support, get_all_start_methods,
                             get_context, get_logger, get_start_method, log_to_stderr,
                             parent_process, set_executable, set_forkserver_preload,
                             set_start_method)

__all__ = ["spawn", "start_processes", "ProcessContext", "SpawnContext",
           "ProcessRaisedException", "ProcessExitedException", "set_sharing_strategy",
           "get_sharing_strategy", "get_all_sharing_strategies",
           "Array", "AuthenticationError", "Barrier", "BoundedSemaphore", "BufferTooShort",
           "Condition", "Event", "JoinableQueue", "Lock", "Manager", "Pipe", "Pool", "Process",
           "ProcessError", "Queue", "RLock", "RawArray", "RawValue", "Semaphore",
           "SimpleQueue", "TimeoutError", "Value", "active_children",
           "allow_connection_pickling", "cpu_count", "current_process", "freeze_support",
           "get_all_start_methods", "get_context", "get_logger", "get_start_method",
           "log_to_stderr", "parent_process", "set_executable", "set_forkserver_preload",
           "set_start_method"]

# narae tensors are plain NumPy/CuPy arrays: nothing is shared through special storage, so
# the sharing strategy is recorded for compatibility and has no effect.
_sharing_strategy = ["file_system"]


def set_sharing_strategy(new_strategy):
    if new_strategy not in get_all_sharing_strategies():
        raise ValueError(f"set_sharing_strategy: unknown strategy {new_strategy!r}")
    _sharing_strategy[0] = new_strategy


def get_sharing_strategy():
    return _sharing_strategy[0]


def get_all_sharing_strategies():
    return {"file_system", "file_descriptor"}


class ProcessException(Exception):
    __slots__ = ["error_index", "error_pid"]

    def __init__(self, msg, error_index, pid):
        super().__init__(msg)
        self.msg, self.error_index, self.pid = msg, error_index, pid

    def __reduce__(self):
        return type(self), (self.msg, self.error_index, self.pid)


class ProcessRaisedException(ProcessException):
    """A child process raised an exception; the message holds its traceback."""

    def __init__(self, msg, error_index, error_pid):
        super().__init__(msg, error_index, error_pid)


class ProcessExitedException(ProcessException):
    """A child process exited with a non-zero code (or was killed by a signal)."""

    __slots__ = ["exit_code", "signal_name"]

    def __init__(self, msg, error_index, error_pid, exit_code, signal_name=None):
        super().__init__(msg, error_index, error_pid)
        self.exit_code, self.signal_name = exit_code, signal_name

    def __reduce__(self):
        return type(self), (self.msg, self.error_index, self.pid, self.exit_code,
                            self.signal_name)


def _wrap(fn, i, args, error_queue):
    try:
        fn(i, *args)
    except KeyboardInterrupt:
        pass
    except Exception:
        error_queue.put(traceback.format_exc())
        sys.exit(1)


class ProcessContext:
    """The processes started by ``start_processes``; ``join()`` waits for them."""

    def __init__(self, processes, error_queues):
        self.processes, self.error_queues = processes, error_queues
        self.sentinels = {p.sentinel: i for i, p in enumerate(processes)}

    def pids(self):
        return [p.pid for p in self.processes]

    def join(self, timeout=None, grace_period=None):
        """True once every process has finished; False if some still run after
        ``timeout``. Raises when one failed (after terminating the others)."""
        if not self.sentinels:
            return True
        ready = multiprocessing.connection.wait(list(self.sentinels), timeout=timeout)
        failed = None
        for s in ready:
            i = self.sentinels.pop(s)
            p = self.processes[i]
            p.join()
            if p.exitcode != 0 and failed is None:
                failed = i
        if failed is None:
            return not self.sentinels
        self._terminate_rest(grace_period)
        p, q = self.processes[failed], self.error_queues[failed]
        if q.empty():
            code = p.exitcode
            if code < 0:
                name = signal.Signals(-code).name
                raise ProcessExitedException(f"process {failed} terminated with signal {name}",
                                             failed, p.pid, code, name)
            raise ProcessExitedException(f"process {failed} terminated with exit code {code}",
                                         failed, p.pid, code)
        tb = q.get()
        msg = f"\n\n-- Process {failed} terminated with the following error:\n{tb}"
        raise ProcessRaisedException(msg, failed, p.pid)

    def _terminate_rest(self, grace_period):
        for s, i in list(self.sentinels.items()):
            if self.processes[i].is_alive():
                self.processes[i].terminate()
        deadline = time.monotonic() + (grace_period or 0)
        for p in self.processes:
            p.join(max(deadline - time.monotonic(), 0) if grace_period else None)
            if p.is_alive():
                p.kill()
                p.join()
        self.sentinels.clear()


class SpawnContext(ProcessContext):
    pass


def start_processes(fn, args=(), nprocs=1, join=True, daemon=False, start_method="spawn"):
    """Start ``nprocs`` processes running ``fn(i, *args)`` with ``start_method``; join them
    (raising a child's error) or return the ProcessContext when ``join=False``."""
    ctx = multiprocessing.get_context(start_method)
    error_queues, processes = [], []
    for i in range(nprocs):
        q = ctx.SimpleQueue()
        p = ctx.Process(target=_wrap, args=(fn, i, args, q), daemon=daemon)
        p.start()
        error_queues.append(q)
        processes.append(p)
    context = ProcessContext(processes, error_queues)
    if not join:
        return context
    while not context.join():
        pass
    return None


def spawn(fn, args=(), nprocs=1, join=True, daemon=False, start_method="spawn"):
    """``start_processes`` (torch.multiprocessing.spawn): ``fn(i, *args)`` in ``nprocs``
    processes."""
    return start_processes(fn, args, nprocs, join, daemon, start_method)
