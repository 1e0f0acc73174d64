"""Todoist two-way sync: an outbox n8n pushes, an incremental pull, and a full reconciliation.

Steward never calls Todoist. It decides what to send (`outbox`, `commands`), applies what n8n
brings back (`pull`, `reconcile`) and reports how far behind it is (`status`).
"""
