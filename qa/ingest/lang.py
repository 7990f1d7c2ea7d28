"""Which of nl/en/de/es/fr/ro a text is in, by function words: cheap, no model, good enough to tell
a question's language from an article's (retrieval fuses lexical ranks per language; the answer step
has a language-pair feature)."""
from __future__ import annotations

import re
from functools import lru_cache

_FUNCTION_WORDS = {
    "en": "the of and to in is was were are that which who what for with by on from as at this his their it have "
          "how when where why did",
    "nl": "de het een van en is was waren zijn dat die wie wat welke voor met door op uit bij niet ook naar werd hoe "
          "hoeveel wanneer waar waarom",
    "de": "der die das und ist war sind wurde nicht ein eine dem den des mit von für auf wer wann welche auch im "
          "er sie es",
    "es": "el la los las de del y que en es fue son por para con una un se qué cuál quién cuándo como más al",
    "fr": "le la les des du et est était sont que qui dans pour avec une un sur par pas au aux ce quel quelle il elle "
          "quand où comment été",
    "ro": "și în este a fost sunt care din cu pe la pentru un o al ale cel cea ce cine când mai fi",
}
_FW = {lang: frozenset(ws.split()) for lang, ws in _FUNCTION_WORDS.items()}
_HINTS = {"ro": re.compile(r"[șşțţă]"), "es": re.compile(r"[ñ¿¡]"), "de": re.compile(r"[äöüß]"), "fr": re.compile(r"[çèêœ]")}
LANGUAGES = tuple(_FW)


@lru_cache(maxsize=16384)
def language(text: str) -> str:
    """ISO code of the most likely of nl/en/de/es/fr/ro, by function words (English when unsure)."""
    words = re.findall(r"\w+", text.lower())
    score = {lang: sum(w in fw for w in words) for lang, fw in _FW.items()}
    for lang, rx in _HINTS.items():
        score[lang] += 1.5 * min(3, len(rx.findall(text.lower())))
    best = max(score, key=lambda lang: (score[lang], lang == "en"))
    return best if score[best] > 0 else "en"
