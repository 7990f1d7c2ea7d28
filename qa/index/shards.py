"""Search past one machine: an index's segments placed on Ray actors (shards), searched by
scatter-gather with exact top-k merging (the plan for 100M chunks is docs/distributed.md).

    from qa import Index, ShardedIndex, answer
    with ShardedIndex(Index.load("index"), shards=4, address="auto") as sx:
        passages = sx.search("Wie leidde de actie?")
        a = answer("Wie leidde de actie?", index=sx)   # also: qa serve --ray auto --ray-shards 4

A ShardedIndex reads like an `Index` (search, article, articles, idf, embedder, ...) but does not
write: add to and remove from `sx.index`, and the shards follow.

Each shard opens its segments read-only from the index folder (shared storage: segments are
immutable files) and answers the two heavy parts of a search, the dense top-n over its sentence
vectors and the BM25 top-n over its chunks. The driver keeps the `Index` (manifest, per-segment
metadata, the BM25 term lists) and does the rest exactly as `Index.search` does: fusion, the
language check, passages. Results are identical to the single-machine index:

- BM25 scores need collection statistics (live documents, average length, document frequency of
  each query term) over *all* shards; the driver computes them from its term lists and sends them
  with the query, so each shard's scores are bit-identical to the whole index's;
- each shard returns its exact top n with rows in its own row space; the driver maps them to the
  index's physical rows (segments keep their manifest order) and takes the top n by (score, row),
  the order a single search breaks ties in.

A new generation (an add, a remove, a compaction) reaches the shards at the next search: the
driver sends each shard its new list of segment entries (names and tombstones); a shard opens the
segments it does not have yet from the folder and keeps the others. When a shard's actor dies, or
does not answer within `timeout` seconds (qa.limits.SHARD_CALL_SECONDS: alive but hung, it would
otherwise hold the index lock and every search forever), that shard is answered by the same shard
code run in the driver process over the same files (identical results); the actor is killed and
replaced, and the shard is answered in the driver until the new actor runs, so no search waits
for an actor to start.
"""
from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .. import limits
from ..ingest.article import Article
from .fusion import Passage
from .index import ArticleInfo, Index
from .store import SegmentEntry, Store
from .view import _View

log = logging.getLogger(__name__)

#: Shards when none are asked for (`qa serve --ray` without --ray-shards).
SHARDS = 2


class Shard:
    """Some segments of an index, searched as one (a Ray actor, or a plain object in the driver)."""

    def __init__(self, path: str, dim: int) -> None:
        self._store = Store(Path(path))
        self._dim = dim
        self._segments: dict[str, Any] = {}
        self._cache: dict = {}
        self._view = _View([], dim, self._cache)

    def place(self, entries: Sequence[dict]) -> int:
        """Serve these segment entries (manifest JSON, in manifest order); returns the live chunks."""
        segs = {}
        for e in entries:
            entry = SegmentEntry(e["name"], e["articles"], e["chunks"], e["sentences"], e["files"],
                                 tuple(e.get("removed", ())))
            seg = self._segments.get(entry.name) or self._store.segment(entry, self._dim)
            seg.entry = entry  # immutable files; only the tombstones change
            segs[entry.name] = seg
        self._segments = segs
        self._view = _View(list(segs.values()), self._dim, self._cache)
        return len(self._view)

    def dense(self, qv: np.ndarray, n: int, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """The exact top `n` (rows in this shard's row space, scores)."""
        if self._view.dense is None:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        hits = self._view.dense.search(np.asarray(qv, np.float32), n, allowed)
        return hits.rows, hits.scores

    def lexical(self, question: str, n: int, allowed: np.ndarray | None, stats: tuple[int, float],
                dfs: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
        """The exact BM25 top `n` scored with the whole index's statistics."""
        self._view.lexical.use_global(stats, dfs)
        return self._view.lexical.top(question, n, allowed)

    def ping(self) -> bool:
        return True


class ShardedIndex:
    """An `Index` whose dense and BM25 search run on `shards` Ray actors (see the module docstring).

    Each actor reserves `cpus_per_shard` CPUs (fractions allowed: 4 shards on a 2-CPU instance
    need 0.5; actors that do not fit wait for a CPU, and their shards are answered in the driver
    meanwhile: `ready` waits for them). `timeout`: seconds a search waits for its shards before
    answering the late ones in the driver and replacing their actors."""

    def __init__(self, index: Index, shards: int = SHARDS, address: str | None = None, *,
                 cpus_per_shard: float = 1, timeout: float = limits.SHARD_CALL_SECONDS) -> None:
        from .distributed import check_address, connect, import_ray

        if shards < 1:
            raise ValueError(f"shards must be at least 1, got {shards}")
        if cpus_per_shard <= 0:
            raise ValueError(f"cpus_per_shard must be above 0, got {cpus_per_shard}")
        if not timeout > 0:
            raise ValueError(f"timeout must be above 0 seconds, got {timeout}")
        self.index = index
        self.n = shards
        self.cpus_per_shard = cpus_per_shard
        self.timeout = timeout
        self._ray = ray = import_ray()
        address = check_address(address)
        self._started = False
        self._closed = False
        self._local_instance = not ray.is_initialized() and address is None
        if not ray.is_initialized():  # else: the connection the caller made (ray.init) is used and kept
            connect(ray, address, max(1, math.ceil(cpus_per_shard * shards)) if address is None else None)
            self._started = True
        env = {"OMP_NUM_THREADS": str(max(1, int(cpus_per_shard))), "OMP_WAIT_POLICY": "PASSIVE"}
        if self._local_instance or local_ray(ray):  # a local instance: its workers import the driver's qa, wherever it lives
            env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
        self._remote_cls = ray.remote(num_cpus=cpus_per_shard, runtime_env={"env_vars": env})(Shard)
        self.actors: list[Any] = [self._new_actor() for _ in range(shards)]
        # shard -> its actor's last call (ping or place) while the actor starts: until that is done,
        # the shard is answered in the driver, so no search waits for an actor to start.
        self._starting: dict[int, Any] = {s: a.ping.remote() for s, a in enumerate(self.actors)}
        # shard -> (Shard in the driver, the entries it holds): shards answered here while their actor is away
        self._local: dict[int, tuple[Shard, list[dict]]] = {}
        self._placed: _View | None = None
        self._plan: list[list[int]] = []  # shard -> indices of the view's segments, in order

    def _new_actor(self) -> Any:
        # absolute: a worker's working directory is not the driver's
        return self._remote_cls.remote(str(self.index.path.resolve()), self.index.embedder.dim)

    # ------------------------------------------------------------ placement
    def _place(self, v: _View, timeout: float | None = None) -> None:
        """Spread the view's segments over the shards (largest first to the least loaded one, by
        sentence vectors) and send each shard its entries; a shard keeps segments it already has."""
        load = [0] * self.n
        plan: list[list[int]] = [[] for _ in range(self.n)]
        for i in sorted(range(len(v.segments)), key=lambda i: -len(v.segments[i].sentences)):
            s = load.index(min(load))
            plan[s].append(i)
            load[s] += len(v.segments[i].sentences)
        self._plan = [sorted(p) for p in plan]
        entries = [[v.segments[i].entry.to_json() for i in p] for p in self._plan]
        self._call("place", [(e,) for e in entries], timeout)
        self._placed = v
        v.remote = self

    def _sync(self, timeout: float | None = None) -> _View:
        v = self.index._view
        if v is not self._placed:
            self._place(v, timeout)
        v.remote = self
        return v

    def _entries(self, s: int) -> list[dict]:
        """Shard `s`'s segment entries in the placed view."""
        v = self._placed
        return [] if v is None else [v.segments[i].entry.to_json() for i in self._plan[s]]

    def _failures(self) -> tuple[type, ...]:
        ex = self._ray.exceptions
        return ex.RayActorError, ex.ActorDiedError, ex.ActorUnavailableError

    def _call(self, method: str, args: Sequence[tuple], timeout: float | None = None) -> list[Any]:
        """Call `method` on every shard with its args, waiting at most `timeout` seconds (default
        `self.timeout`) for all of them together. A shard whose actor died or did not answer in
        time, or whose new actor is still starting, is answered in this process (same code, same
        files); a dead or late actor is killed and replaced (see `_replace`)."""
        wait = self.timeout if timeout is None else timeout
        refs = {s: getattr(self.actors[s], method).remote(*args[s]) for s in range(self.n)
                if self._up(s, method, args[s])}
        deadline = time.monotonic() + wait
        out = []
        for s in range(self.n):
            if s in refs:
                try:
                    out.append(self._ray.get(refs[s], timeout=max(0.0, deadline - time.monotonic())))
                    continue
                except self._ray.exceptions.GetTimeoutError:
                    self._replace(s, method, args[s], f"did not answer within {wait:g} s")
                except self._failures() as e:
                    self._replace(s, method, args[s], f"failed ({type(e).__name__})")
            out.append(self._locally(s, method, args[s]))
        return out

    def _up(self, s: int, method: str, arg: tuple) -> bool:
        """Whether shard `s`'s actor runs (its start call is done). An actor still starting is sent
        `place` calls (in order, after its start) but is not waited for; one that failed to start
        is replaced."""
        ref = self._starting.get(s)
        if ref is None:
            return True
        done, _ = self._ray.wait([ref], timeout=0)
        if done:
            del self._starting[s]
            try:
                self._ray.get(ref)
            except self._failures() as e:
                self._replace(s, method, arg, f"failed to start ({type(e).__name__})")
                return False  # the new actor got this placement already
            else:
                if s in self._local:
                    log.info("shard %d is answered by its actor again", s)
                self._local.pop(s, None)  # its segments are closed here
                return True
        if method == "place":
            self._starting[s] = self.actors[s].place.remote(*arg)
        return False

    def _replace(self, s: int, method: str, arg: tuple, why: str) -> None:
        """Kill shard `s`'s actor (a hung one would go on holding its CPU) and start a new one with
        the shard's segments; the shard is answered in this process until it runs. One warning."""
        log.warning("shard %d %s; answering it in this process and replacing its actor", s, why)
        try:
            self._ray.kill(self.actors[s])
        except Exception:  # noqa: BLE001 - already gone
            pass
        self.actors[s] = actor = self._new_actor()
        if method == "place":
            self._starting[s] = actor.place.remote(*arg)
        elif self._placed is not None:
            self._starting[s] = actor.place.remote(self._entries(s))
        else:
            self._starting[s] = actor.ping.remote()

    def _locally(self, s: int, method: str, arg: tuple) -> Any:
        """Shard `s` answered in this process: the same `Shard` code over the same files."""
        shard, held = self._local.get(s) or (Shard(str(self.index.path.resolve()), self.index.embedder.dim), None)
        want = arg[0] if method == "place" else self._entries(s)
        if method != "place" and held != want:
            shard.place(want)
        out = getattr(shard, method)(*arg)
        self._local[s] = (shard, want)
        return out

    # ------------------------------------------------------------ the two scattered searches
    def _split(self, v: _View, allowed: np.ndarray | None, base: np.ndarray) -> list[np.ndarray | None]:
        if allowed is None:
            return [None] * self.n
        return [np.concatenate([allowed[base[i]:base[i + 1]] for i in p]) if p else np.zeros(0, bool)
                for p in self._plan]

    def _to_global(self, v: _View, s: int, rows: np.ndarray, base: np.ndarray) -> np.ndarray:
        """Rows in shard `s`'s row space -> the index's physical rows (`base`: per-segment first rows)."""
        p = self._plan[s]
        sizes = [int(base[i + 1] - base[i]) for i in p]
        local_base = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        k = np.searchsorted(local_base, rows, side="right") - 1
        return base[np.asarray(p, np.int64)[k]] + rows - local_base[k]

    @staticmethod
    def _merge(parts: list[tuple[np.ndarray, np.ndarray]], n: int) -> tuple[np.ndarray, np.ndarray]:
        rows = np.concatenate([r for r, _ in parts]) if parts else np.zeros(0, np.int64)
        sc = np.concatenate([np.asarray(x, np.float32) for _, x in parts]) if parts else np.zeros(0, np.float32)
        best = np.lexsort((rows, -sc))[:n]  # by score, ties by row: the order of a single search
        return rows[best], sc[best]

    def dense_hits(self, v: _View, qv: np.ndarray, n: int, allowed: np.ndarray | None) -> list[tuple[int, float]]:
        qv = np.asarray(qv, np.float32)
        got = self._call("dense", [(qv, n, a) for a in self._split(v, allowed, v.sent_base)])
        rows, sc = self._merge([(self._to_global(v, s, r, v.sent_base), x) for s, (r, x) in enumerate(got)], n)
        return list(zip(rows.tolist(), sc.astype(float).tolist()))

    def lexical_top(self, v: _View, question: str, n: int, allowed: np.ndarray | None
                    ) -> tuple[list[int], dict[int, float]]:
        stats, dfs = v.lexical.global_stats(question)
        got = self._call("lexical", [(question, n, a, stats, dfs) for a in self._split(v, allowed, v.chunk_base)])
        rows, sc = self._merge([(self._to_global(v, s, r, v.chunk_base), x) for s, (r, x) in enumerate(got)], n)
        rows_l = rows.tolist()
        return rows_l, dict(zip(rows_l, sc.astype(float).tolist()))

    # ------------------------------------------------------------ public
    def search(self, question: str, k: int = 5, **kw: Any) -> list[Passage]:
        """`Index.search` (same arguments: dates, `articles`, `query_vector`, weights), with the dense
        and BM25 parts answered by the shards."""
        with self.index._lock:
            self.index._refresh()
            self._sync()
            return self.index.search(question, k, **kw)

    def ready(self, timeout: float = 120) -> "ShardedIndex":
        """Wait until every shard's actor runs and holds the index's current segments; a one-line
        `DistributedError` when one fails to start or does not start within `timeout` seconds (a
        cluster without room for the shards: actors that do not fit wait for a CPU forever)."""
        from .distributed import DistributedError, _first_line

        ray = self._ray
        refs = [a.ping.remote() for a in self.actors]
        done, pending = ray.wait(refs, num_returns=len(refs), timeout=timeout)
        if pending:
            free = ray.available_resources().get("CPU", 0.0)
            raise DistributedError(f"{len(pending)} of {self.n} shards did not start within {timeout:g} s: each "
                                   f"reserves {self.cpus_per_shard:g} CPU and the Ray cluster has {free:g} free; "
                                   "use fewer shards (--ray-shards) or add nodes")
        try:
            ray.get(done)
        except Exception as e:  # noqa: BLE001 - Ray wraps the actor's error: one line is the point
            raise DistributedError(f"a shard failed to start: {_first_line(e)}; every node needs qa installed and "
                                   f"read access to {self.index.path.resolve()} (see docs/distributed.md)") from None
        with self.index._lock:
            self.index._refresh()
            self._sync(timeout)  # placing: opening the segments may take longer than a search
        return self

    # The read-only rest of the `Index` API, so `qa.answer(..., index=sx)` and the server take a
    # ShardedIndex where they take an Index. Writes go to `self.index`; the shards follow at the next search.
    @property
    def path(self) -> Path:
        """The index folder."""
        return self.index.path

    @property
    def embedder(self) -> Any:
        """The index's embedder (questions are embedded in this process)."""
        return self.index.embedder

    def __len__(self) -> int:
        return len(self.index)

    def articles(self) -> list[ArticleInfo]:
        """`Index.articles`."""
        return self.index.articles()

    def article(self, article_id: str) -> Article:
        """`Index.article`."""
        return self.index.article(article_id)

    def idf(self, token: str) -> float:
        """`Index.idf`: BM25's idf over the whole index."""
        return self.index.idf(token)

    def sentence_scores(self, query_vector: np.ndarray, article_id: str, start: int = 0,
                        end: int | None = None) -> list[tuple[int, int, float]]:
        """`Index.sentence_scores`."""
        return self.index.sentence_scores(query_vector, article_id, start, end)

    def close(self) -> None:
        """Stop the actors (and the local Ray instance or connection this object started); once."""
        if self._closed:
            return
        self._closed = True
        for a in self.actors:
            try:
                self._ray.kill(a)
            except Exception:  # noqa: BLE001 - already gone
                pass
        if self._placed is not None:
            self._placed.remote = None
        if self._started:
            self._ray.shutdown()

    def __enter__(self) -> "ShardedIndex":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def local_ray(ray: Any) -> bool:
    """Whether the Ray instance runs on this machine only (then workers see this file system)."""
    try:
        return len(ray.nodes()) == 1 and ray.nodes()[0]["NodeManagerAddress"] in ("127.0.0.1", ray.util.get_node_ip_address())
    except Exception:  # noqa: BLE001 - an older Ray or a client connection: assume a cluster
        return False
