"""Chat: Telegram (through n8n) -> proposed actions -> critic -> draft -> Yes / Edit / No -> executor.

routes.py        /api/v1/chat: message, confirm, links, users
conversation.py  what a message is (command, question, correction, capture) and its answer
decisions.py     Yes / Edit / No on a draft, under a row lock
planner.py       message -> ActionPlan: the LLM `action_planner` prompt, or offline.py (quick-add)
critic.py        flags on a plan: rules always, the LLM `critic` prompt in default mode
policy.py        what a plan must satisfy to be applied; executor.py applies it in one savepoint
undo.py          /undo; questions.py read-only answers with sources; today.py /today
identity.py      users, one-time link codes, chat bindings; updates.py redelivered updates
drafts.py, render.py, commands.py, limits.py, context.py, actions.py, models.py, cli.py
quickadd.py      the offline capture parser (with scan, tokens, dates, times, recurrence, vocab)
"""
