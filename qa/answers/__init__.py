"""Answers: cited answers from retrieved passages (answer), the learned sentence scorer and its model file
(reader, answer_model.json) and the optional LLM client (llm). Imports qa.index, qa.ingest and qa.limits.

Plural on purpose: `qa.answer` is the function.
"""
