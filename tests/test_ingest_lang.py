"""qa.ingest.lang: short questions in the six supported languages are told apart."""
import pytest

from qa.ingest.lang import LANGUAGES, language

SHORT = [
    ("Hoeveel mensen kwamen om bij de overstroming?", "nl"),
    ("En in België?", "nl"),
    ("Wie heeft het onderzoek geleid?", "nl"),
    ("How many people died in the flood?", "en"),
    ("And who led it?", "en"),
    ("Wer hat die Ermittlungen geleitet?", "de"),
    ("¿Cuántas personas murieron en la inundación?", "es"),
    ("Qui a dirigé l'enquête ?", "fr"),
    ("Câți oameni au murit în inundație?", "ro"),
]


@pytest.mark.parametrize("text,lang", SHORT)
def test_short_questions(text: str, lang: str) -> None:
    assert language(text) == lang


def test_only_supported_languages_and_no_letters() -> None:
    assert language("Dit is een Italiaanse zin? No: questa è una frase italiana.") in LANGUAGES
    assert language("Questa è una frase italiana sulla pioggia di ieri.") in LANGUAGES
    assert language("12345 !!") == "en"
