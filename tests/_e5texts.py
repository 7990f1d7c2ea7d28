"""Varied nl/en/de/es/ro texts for the parity tests of qa.answers (real sentences plus generated ones)."""
from __future__ import annotations

import json
import random
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Sentence parts per language: subject, verb phrase, object/complement, tail. Accents, digits,
# units, quotes and compound words on purpose.
PARTS = {
    "de": (["Die Bundesregierung", "Der Bürgermeister von Köln", "Eine Sprecherin des Ministeriums", "Die Polizei"],
           ["kündigte am Dienstag an,", "bestätigte gegenüber der Presse,", "erklärte überraschend,"],
           ["dass die Straßenbahnhaltestelle für 3,5 Mio. € umgebaut wird", "dass 1.200 Wohnungen ohne Strom waren",
            "dass die Donaudampfschifffahrtsgesellschaft Insolvenz anmeldet"],
           [".", "!", " (Stand: 14:30 Uhr).", " – so der „Bericht“."]),
    "es": (["El Gobierno de España", "La alcaldesa de Bilbao", "Un portavoz de la Guardia Civil", "Los vecinos"],
           ["anunció el miércoles que", "confirmó a la prensa que", "¿sabía realmente que"],
           ["el puente costará 18,5 millones de euros", "la estación de Ñuñoa cerrará en 2025",
            "más de 3.000 pingüinos llegaron a la costa"],
           [".", "?", " según el último informe.", "… ¡increíble!"]),
    "ro": (["Guvernul României", "Primarul din Timișoara", "Un purtător de cuvânt al Poliției", "Locuitorii"],
           ["a anunțat marți că", "a confirmat presei că", "susține că"],
           ["podul va costa 18,5 milioane de euro", "școala din Brașov se închide în 2025",
            "peste 1.200 de gospodării au rămas fără curent"],
           [".", "!", " (potrivit raportului).", " — au declarat oficialii."]),
    "nl": (["De gemeenteraad van Zwolle", "Een woordvoerder van Rijkswaterstaat", "De minister van Financiën"],
           ["meldde dinsdagavond dat", "bevestigde tegenover het ANP dat", "zei verrassend dat"],
           ["de fietsbrug 18,5 miljoen euro gaat kosten", "er 29 van de 39 raadsleden voor stemden",
            "het KNMI code oranje afkondigde voor Zeeland"],
           [".", "?", " 🚀", " 🔥🔥 — aldus het persbericht."]),
    "en": (["The European Commission", "A spokeswoman for Europol", "Residents of New Orleans"],
           ["said on Tuesday that", "confirmed to reporters that", "didn't know whether"],
           ["the bridge would cost $18.5m", "1,200 homes were left without power after Storm Ciarán",
            "the so-called 'antidisestablishmentarianism' debate was over"],
           [".", "?!", " (see p. 12).", " :-)"]),
}


def article_sentences() -> list[str]:
    """Sentences and titles of the repo's nl/en evaluation articles."""
    out: list[str] = []
    for line in (ROOT / "eval/crossling/articles.jsonl").read_text("utf-8").splitlines():
        a = json.loads(line)
        out.append(a["title"])
        out.extend(s for s in re.split(r"(?<=[.!?])\s+", a["text"]) if s)
    return out


def varied_texts(n: int, seed: int = 17) -> list[str]:
    """n texts: half article sentences (sometimes two joined), half generated de/es/ro/nl/en sentences."""
    rng = random.Random(seed)
    real = article_sentences()
    texts: list[str] = []
    langs = sorted(PARTS)
    while len(texts) < n:
        if len(texts) % 2 == 0:
            s = rng.choice(real)
            if rng.random() < 0.3:
                s += " " + rng.choice(real)
        else:
            subj, verb, obj, tail = PARTS[langs[len(texts) // 2 % len(langs)]]
            s = f"{rng.choice(subj)} {rng.choice(verb)} {rng.choice(obj)}{rng.choice(tail)}"
            if rng.random() < 0.2:
                s = s.upper() if rng.random() < 0.5 else "  " + s.replace(" ", "  ", 2) + "\n"
        texts.append(s)
    return texts
