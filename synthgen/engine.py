"""Where work runs: this process (``local``, the default) or Ray (``--engine ray``, past one machine).

An engine maps a module-level function over items and yields the results in the items' order, with a
bounded number in flight, so memory stays flat however many items there are. Work is split so that
every item is seeded by its index alone (``BaseGenerator.sample_blocks``): results do not depend on
the engine or on the number of workers. synthgen schedules nothing itself: Ray does.

Ray: ``RAY_ADDRESS`` (or ``address``) joins an existing cluster, which is left running; otherwise a
local Ray starts with ``workers`` CPUs and shuts down when the engine closes. ``pip install
'synthgen[ray]'``.
"""

from __future__ import annotations

import collections
import math
import os
import socket
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterable, Iterator

from .exceptions import SynthgenError, UsageError

__all__ = ["ENGINES", "LocalEngine", "RayEngine", "make_engine", "RAY_INSTALL_HINT", "local_cores"]

ENGINES = ("local", "ray")
RAY_INSTALL_HINT = "pip install 'synthgen[ray]'"


CGROUP_CPU_MAX = "/sys/fs/cgroup/cpu.max"  # cgroup v2: "QUOTA PERIOD" or "max PERIOD"


def local_cores() -> int:
    """The CPUs this process may use: its affinity mask (``taskset``, cpusets), narrowed by a cgroup v2 CPU
    quota where one is set (a container's ``--cpus``, a Kubernetes CPU limit), rounded up."""
    try:
        cores = max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    try:
        with open(CGROUP_CPU_MAX, encoding="ascii") as fh:
            quota, period = fh.read().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):  # no cgroup v2 limit here
        pass
    return cores


class LocalEngine:
    """Runs each item in this process, in order (or on a few threads of it, where the caller says so)."""

    name = "local"

    @property
    def cores_per_task(self) -> int:
        """Threads one task may use (the DCR search's k-d tree): a task runs alone in this process."""
        return local_cores()

    def map(self, fn: Callable[[Any, Any], Any], items: Iterable[Any], *, shared: Any = None,
            threads: int = 1) -> Iterator[Any]:
        """``fn(shared, item)`` for each item, results in the items' order. ``threads`` > 1 runs up to that
        many items at once on threads of this process: for an ``fn`` that spends its time in native code that
        releases the GIL (a model fit on one OpenMP thread) and shares no state between items, so the result
        of each item is the same as in order; at most ``2 * threads`` items are submitted ahead."""
        if threads <= 1:
            for item in items:
                yield fn(shared, item)
            return
        pending: collections.deque = collections.deque()
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="synthgen") as pool:
            try:
                for item in items:
                    pending.append(pool.submit(fn, shared, item))
                    if len(pending) >= 2 * threads:
                        yield pending.popleft().result()
                while pending:
                    yield pending.popleft().result()
            finally:
                for future in pending:  # stopped early: what has not started is not started
                    future.cancel()

    def close(self) -> None:
        return None

    def __enter__(self) -> "LocalEngine":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class RayEngine:
    """Runs each item as a Ray task; ``shared`` is put in Ray's object store once and passed by reference."""

    name = "ray"
    cores_per_task = 1  # a task holds one of Ray's CPUs

    def __init__(self, workers: int | None = None, address: str | None = None, in_flight: int | None = None) -> None:
        try:
            import ray
        except ImportError:
            raise UsageError(f"--engine ray needs ray, which is not installed: {RAY_INSTALL_HINT}") from None
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
            raise UsageError(f"--workers: expected a whole number >= 1, got {workers!r}")
        self._ray = ray
        address = address or os.environ.get("RAY_ADDRESS") or None
        self.address = address
        self.connected_here = False  # this engine started Ray or joined a cluster: close() ends that
        if not ray.is_initialized():
            if address:
                _check_reachable(address)
            options = dict(include_dashboard=False, log_to_driver=False, configure_logging=False)
            try:
                if address:
                    ray.init(address=address, **options)
                else:
                    ray.init(num_cpus=workers or os.cpu_count() or 1, **options)
                self.connected_here = True
            except Exception as exc:  # noqa: BLE001 - ray raises ConnectionError, RuntimeError, ValueError...
                where = f"the Ray cluster at '{address}'" if address else "a local Ray"
                raise UsageError(f"--engine ray: cannot start or join {where} "
                                 f"({type(exc).__name__}: {' '.join(str(exc).split())[:200]})") from None
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.in_flight = in_flight or max(2, 2 * cpus)

    def map(self, fn: Callable[[Any, Any], Any], items: Iterable[Any], *, shared: Any = None,
            threads: int = 1) -> Iterator[Any]:
        """``fn(shared, item)`` for each item as a Ray task; results in the items' order, at most
        ``in_flight`` tasks submitted ahead of the one being read. A task's synthgen error is raised as it is.
        ``threads`` is the local engine's: each Ray task is one process on one of Ray's CPUs."""
        ray = self._ray
        remote = ray.remote(fn)
        shared_ref = ray.put(shared)
        pending: collections.deque = collections.deque()
        items = iter(items)
        try:
            for item in items:
                pending.append(remote.remote(shared_ref, item))
                if len(pending) >= self.in_flight:
                    yield self._get(pending.popleft())
            while pending:
                yield self._get(pending.popleft())
        finally:
            for ref in pending:  # stopped early (an error, Ctrl-C, SIGTERM): the rest is not needed
                ray.cancel(ref, force=True)

    def _get(self, ref: Any) -> Any:
        try:
            return self._ray.get(ref)
        except self._ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, SynthgenError):
                raise cause from None
            raise

    def close(self) -> None:
        """Shut Ray down when it was started here; a joined cluster is only disconnected from; a Ray this
        process had already started (the library API) is left as it is."""
        if self._ray.is_initialized() and self.connected_here:
            self._ray.shutdown()

    def __enter__(self) -> "RayEngine":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _check_reachable(address: str, timeout: float = 3.0) -> None:
    """A Ray address host:port (or ray://host:port) must accept a connection within ``timeout`` seconds:
    Ray's own client retries an unreachable address for minutes. 'auto' and 'local' are Ray's to resolve."""
    if address in ("auto", "local"):
        return
    host, sep, port = address.split("://", 1)[-1].rpartition(":")
    if not sep or not port.isdigit():
        raise UsageError(f"--ray-address '{address}': expected HOST:PORT, ray://HOST:PORT or auto")
    try:
        with socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=timeout):
            pass
    except OSError as exc:
        raise UsageError(f"--ray-address '{address}': no Ray cluster answers there ({exc.strerror or exc}); "
                         "start one with `ray start --head` or leave the address out for a local Ray") from None


def make_engine(name: str = "local", *, workers: int | None = None, address: str | None = None):
    """The engine called ``name`` ('local' or 'ray'); a context manager that closes it."""
    if name == "local":
        if address:
            raise UsageError("--ray-address needs --engine ray")
        return LocalEngine()
    if name == "ray":
        return RayEngine(workers=workers, address=address)
    raise UsageError(f"--engine: expected one of {', '.join(ENGINES)}, got {name!r}")
