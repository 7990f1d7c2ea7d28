"""Example questions for the chat's empty state, made from the user's newest articles.

One question about the newest article's title, then questions about the names that recur in the
newest articles (people, places, organisations: capitalised words that do not merely start a
sentence), in the UI's language. The shipped seed questions fill in when there is too little.
"""
from __future__ import annotations

import re
from collections import Counter
from typing import Callable, Sequence

from ..ingest.article import Article

#: Questions for an index without articles (or without usable names), per UI language.
FALLBACK = {"en": ["Which countries were involved?", "Who led the action?"],
            "nl": ["Welke landen waren betrokken bij de actie?", "Wie leidde de actie?"]}
ABOUT_TITLE = {"en": "What happened: “{title}”?", "nl": "Wat is er gebeurd: “{title}”?"}
ABOUT_NAME = {"en": "What do the articles say about {name}?", "nl": "Wat zeggen de artikelen over {name}?"}

# Capitalised words that are not names (sentence openers in either language, months, days).
_COMMON = set("""the a an in on at of for and but or this that these those it he she they we you i his her their
its there here what who when where why how which after before during while with from by as if then also
de het een en maar of dit dat deze die er hij zij ze wij jij ik zijn haar hun in op aan bij voor na met van
door als dan ook want toen wie wat waar wanneer waarom hoe welke volgens
monday tuesday wednesday thursday friday saturday sunday maandag dinsdag woensdag donderdag vrijdag zaterdag zondag
january february march april may june july august september october november december
januari februari maart mei juni juli augustus oktober""".split())
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b([A-Z][\w’'-]+(?:\s+(?:van|de|der|den|von|of|the|la|le)\s+[A-Z][\w’'-]+"
                   r"|\s+[A-Z][\w’'-]+)*)", re.M)


def names(text: str, top: int = 2) -> list[str]:
    """The names that recur most in `text` (capitalised words not merely starting a sentence)."""
    counts: Counter[str] = Counter()
    for m in _NAME.finditer(text):
        name = m.group(1).strip()
        words = name.split()
        if len(name) < 3 or (len(words) == 1 and words[0].lower() in _COMMON) or name.isupper() and len(name) < 3:
            continue
        counts[name] += 1
    return [n for n, c in counts.most_common(top * 3) if c >= 1][:top]


def examples(newest: Sequence[str], article: Callable[[str], Article], lang: str = "en", n: int = 3) -> list[str]:
    """Up to `n` example questions in `lang` ("en" or "nl") from the articles `newest` (ids, newest first)."""
    lang = lang if lang in FALLBACK else "en"
    out: list[str] = []
    seen: set[str] = set()
    arts = []
    for aid in list(newest)[:5]:
        try:
            arts.append(article(aid))
        except KeyError:
            continue
    title = " ".join(arts[0].title.split()) if arts else ""
    if title and len(title) <= 60 and not title.endswith("…"):  # a real headline, not a cut first sentence
        out.append(ABOUT_TITLE[lang].format(title=title.rstrip(".")))
    for _ in range(2):  # the newest articles' main names first, then their second names
        for a in arts:
            found = [x for x in names(a.text, 2) if x.lower() not in seen]
            if len(found) > 0 and len(out) < n:
                seen.add(found[0].lower())
                out.append(ABOUT_NAME[lang].format(name=found[0]))
    for q in FALLBACK[lang]:
        if len(out) >= n:
            break
        if q not in out:
            out.append(q)
    return out[:n]
