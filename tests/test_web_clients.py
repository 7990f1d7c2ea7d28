"""Acceptance (issue 18): the clients people run against an OpenAI-compatible server, driving a real
`qa serve` (a subprocess on a free loopback port, the seed index, the real embedder): the official
`openai` SDK, LangChain's `ChatOpenAI` and simonw's `llm` CLI (an extra OpenAI-compatible model in a
temp LLM_USER_PATH). Non-streaming and streaming, usage, citations as annotations with URLs, 400s
for n=2 / response_format / tools, GET /v1/models/qa."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import COUNTRIES, ROOT

pytestmark = pytest.mark.slow
Q1, Q2 = "Which countries were involved?", "Wie leidde de actie?"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def base(seed_index_dir, tmp_path_factory):
    """`qa serve` on a copy of the seed index; yields its /v1 URL."""
    httpx = pytest.importorskip("httpx")
    path = tmp_path_factory.mktemp("clients") / "index"
    shutil.copytree(seed_index_dir, path)
    port = _free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    env.pop("QA_AUTH", None)
    env.pop("QA_API_TOKEN", None)
    proc = subprocess.Popen([sys.executable, "-m", "qa", "serve", "--index", str(path), "--port", str(port)],
                            cwd=path.parent, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 180
    try:
        while True:
            try:
                if httpx.get(url + "/models", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"qa serve did not start: {proc.stderr.read() if proc.poll() is not None else ''}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _check_annotations(content: str, notes: list, url: str) -> None:
    assert notes, "no annotations"
    for n in notes:
        n = n if isinstance(n, dict) else n.model_dump()
        assert n["type"] == "url_citation"
        uc = n["url_citation"]
        assert uc["url"].startswith(url.removesuffix("/v1") + "/article/000_") and "#s" in uc["url"]
        assert content[uc["start_index"]:uc["end_index"]].startswith("[") and uc["title"]


# ------------------------------------------------------------------ the openai SDK
def test_openai_sdk(base):
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=base, api_key="unused", max_retries=0)
    assert client.models.retrieve("qa").id == "qa"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-4o")

    resp = client.chat.completions.create(model="qa", messages=[{"role": "user", "content": Q1}])
    msg = resp.choices[0].message
    for country in COUNTRIES:
        assert country in msg.content
    assert resp.usage.prompt_tokens > 0 and resp.usage.completion_tokens > 20
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens
    _check_annotations(msg.content, msg.annotations, base)  # typed by the SDK: message.annotations
    assert msg.annotations[0].url_citation.url.endswith(f"#s{resp.model_extra['citations'][0]['span'][0]}")

    stream = client.chat.completions.create(model="qa", stream=True, stream_options={"include_usage": True},
                                            messages=[{"role": "user", "content": Q2}])
    chunks = list(stream)
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "parket" in content
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0
    last = chunks[-2].choices[0]
    assert last.finish_reason == "stop"
    _check_annotations(content, last.delta.model_extra["annotations"], base)

    cut = client.chat.completions.create(model="qa", max_tokens=5, messages=[{"role": "user", "content": Q1}])
    assert cut.choices[0].finish_reason == "length" and cut.usage.completion_tokens <= 5

    for kwargs, param in (({"n": 2}, "n"), ({"response_format": {"type": "json_object"}}, "response_format"),
                          ({"tools": [{"type": "function", "function": {"name": "lookup", "parameters": {
                              "type": "object", "properties": {}}}}]}, "tools")):
        with pytest.raises(openai.BadRequestError) as e:
            client.chat.completions.create(model="qa", messages=[{"role": "user", "content": Q1}], **kwargs)
        assert e.value.param == param and isinstance(e.value.code, str), e.value.body
    # parse() with a schema fails at once with the 400, not later on the client
    pydantic = pytest.importorskip("pydantic")

    class Countries(pydantic.BaseModel):
        names: list[str]

    with pytest.raises(openai.BadRequestError):
        client.chat.completions.parse(model="qa", messages=[{"role": "user", "content": Q1}],
                                      response_format=Countries)


# ------------------------------------------------------------------ LangChain
def test_langchain_chat_openai(base):
    lc = pytest.importorskip("langchain_openai")
    openai = pytest.importorskip("openai")
    model = lc.ChatOpenAI(model="qa", base_url=base, api_key="unused", max_retries=0, timeout=120)
    msg = model.invoke(Q1)
    for country in COUNTRIES:
        assert country in msg.content
    assert "Sources:" in msg.content and "[1]" in msg.content
    assert msg.usage_metadata["input_tokens"] > 0 and msg.usage_metadata["output_tokens"] > 20
    assert msg.response_metadata["finish_reason"] == "stop"

    full = None
    for chunk in lc.ChatOpenAI(model="qa", base_url=base, api_key="unused", max_retries=0,
                               stream_usage=True).stream(Q2):
        full = chunk if full is None else full + chunk
    assert "parket" in full.content and full.usage_metadata["output_tokens"] > 0

    with pytest.raises(openai.BadRequestError):
        lc.ChatOpenAI(model="qa", base_url=base, api_key="unused", max_retries=0, n=2).invoke(Q1)
    with pytest.raises(openai.BadRequestError):
        model.bind_tools([{"type": "function", "function": {"name": "lookup", "description": "look up",
                                                             "parameters": {"type": "object", "properties": {}}}}]
                         ).invoke(Q1)
    with pytest.raises(openai.BadRequestError):
        model.bind(response_format={"type": "json_object"}).invoke(Q1)


# ------------------------------------------------------------------ simonw's llm
def test_llm_cli(base, tmp_path):
    pytest.importorskip("llm")
    (tmp_path / "extra-openai-models.yaml").write_text(
        f"- model_id: qa\n  model_name: qa\n  api_base: \"{base}\"\n", encoding="utf-8")
    env = {**os.environ, "LLM_USER_PATH": str(tmp_path)}
    env.pop("OPENAI_API_KEY", None)

    def llm(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "llm", *args], env=env, capture_output=True, text=True,
                              timeout=180)

    def logged() -> dict:
        r = llm("logs", "--json", "-n", "1")
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)[0]

    r = llm("-m", "qa", "--no-stream", Q1)  # crashed on the missing usage before
    assert r.returncode == 0, r.stderr
    for country in COUNTRIES:
        assert country in r.stdout
    entry = logged()
    assert entry["input_tokens"] > 0 and entry["output_tokens"] > 20
    message = entry["response_json"]["choices"][0]["message"]
    _check_annotations(message["content"], message["annotations"], base)

    r = llm("-m", "qa", Q2)  # streamed
    assert r.returncode == 0 and "parket" in r.stdout, r.stderr
    entry = logged()
    assert entry["output_tokens"] > 0 and entry["response_json"]["finish_reason"] == "stop"

    r = llm("-m", "qa", "-o", "json_object", "1", Q1)
    assert r.returncode != 0 and "response_format" in r.stderr + r.stdout
