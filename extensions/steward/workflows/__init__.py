"""n8n workflows kept as JSON in `n8n/workflows/`: the linter that checks them against Steward's
OpenAPI document and the pinned n8n, and the push that imports them into a running n8n."""
