"""Chat: Telegram capture, drafts and confirmation (issue 7).

`quickadd.parse_quick_add` is the offline capture parser: it turns one message into a
structured item (title, dates, project, labels, priority, duration, recurrence) without a
database or an LLM, so capture works in the embedded default.
"""
