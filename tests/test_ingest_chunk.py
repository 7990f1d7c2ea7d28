from qa.ingest.chunk import chunk_text, pack, split_sentences


def sentences(text):
    return [text[a:b] for a, b in split_sentences(text)]


def test_dutch_and_english_abbreviations_initials_numbers_and_quotes():
    text = ('Dhr. J. de Vries sprak o.a. over 3,5 procent groei. "Dat is veel," zei hij. '
            'Mr. Smith arrived in the U.S. on Jan. 5 at 10 a.m. with Dr. Jones. He paid $3.50! '
            '“Wat nu?” vroeg ze. Het kost ca. 12 mln. euro per jaar.')
    assert sentences(text) == [
        'Dhr. J. de Vries sprak o.a. over 3,5 procent groei.',
        '"Dat is veel," zei hij.',
        'Mr. Smith arrived in the U.S. on Jan. 5 at 10 a.m. with Dr. Jones.',
        'He paid $3.50!',
        '“Wat nu?” vroeg ze.',
        'Het kost ca. 12 mln. euro per jaar.',
    ]


def test_paragraph_breaks_end_sentences_and_spans_point_into_text():
    text = "Radicalisering\n\nDe actie liep. Ze eindigde gisteren"
    spans = split_sentences(text)
    assert [text[a:b] for a, b in spans] == ["Radicalisering", "De actie liep.", "Ze eindigde gisteren"]


def test_chunks_are_whole_sentences_with_overlap_and_spans():
    text = " ".join(f"Zin nummer {i} heeft precies zes woorden." for i in range(20))
    units, chunks = chunk_text("a", text, max_words=20, overlap=1)
    assert len(units) == 20
    for c in chunks:
        assert c.text == text[c.start:c.end]
        assert c.text.startswith("Zin") and c.text.endswith(".")
        assert len(c.text.split()) <= 20
    for prev, nxt in zip(chunks, chunks[1:]):
        assert nxt.first_unit == prev.last_unit - 1  # one sentence of overlap
    assert chunks[-1].last_unit == 20
    assert [c.position for c in chunks] == list(range(len(chunks)))
    assert chunks[0].id == "a#0"


def test_a_sentence_longer_than_a_chunk_is_cut_at_words():
    long = " ".join(["woord"] * 25) + "."
    units, chunks = chunk_text("a", "Kort. " + long + " Einde.", max_words=10, overlap=0)
    assert all(len(c.text.split()) <= 10 for c in chunks)
    assert sum(len(c.text.split()) for c in chunks) == 27


def test_pack_always_progresses():
    assert pack([5, 5, 5], max_words=4, overlap=2) == [(0, 1), (1, 2), (2, 3)]
    assert pack([], 10, 1) == []


def test_seed_article_chunks(seed_index):
    art = seed_index.article("000_7307e82632753693.txt")
    units, chunks = chunk_text(art.id, art.text)
    assert 2 <= len(chunks) <= 6
    assert all(art.text[c.start:c.end] == c.text for c in chunks)
    assert any("Bulgarije, Frankrijk, Roemenië, Nederland, Canada en de Verenigde Staten" in c.text for c in chunks)
