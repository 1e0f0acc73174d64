#!/bin/sh
# The one-shot `n8n-import` job: credentials from the environment, then the repo's workflows,
# then publish each one. It runs while n8n is stopped (n8n waits for it to complete), because a
# running n8n does not pick up CLI imports (N8N_FACTS 3). Rerun it on a rollout:
#   docker compose stop n8n && docker compose run --rm n8n-import && docker compose up -d
set -eu
REPO="${STEWARD_N8N_DIR:-/steward/n8n}"
CREDS="$(mktemp)"
trap 'rm -f "$CREDS"' EXIT INT TERM

echo "n8n-import: credentials from the environment"
node "$REPO/provision.mjs" credentials "$REPO/credentials.template.json" "$CREDS"
n8n import:credentials --input="$CREDS"
rm -f "$CREDS"

echo "n8n-import: workflows from $REPO/workflows"
n8n import:workflow --separate --input="$REPO/workflows"

# Publish by the ids the workflow files carry (an assignment, so a failure here stops the job).
ids="$(node -e '
  const fs = require("fs"), path = require("path"), dir = process.argv[1];
  for (const f of fs.readdirSync(dir).filter((f) => f.endsWith(".json")).sort()) {
    const wf = JSON.parse(fs.readFileSync(path.join(dir, f), "utf8"));
    if (wf.id) console.log(wf.id);
  }' "$REPO/workflows")"
[ -n "$ids" ] || { echo "n8n-import: no workflow ids in $REPO/workflows" >&2; exit 1; }
for id in $ids; do
  n8n publish:workflow --id="$id"
done
# Telegram -> telegram-chat's webhook, with TELEGRAM_WEBHOOK_SECRET as its secret token (a no-op
# without TELEGRAM_BOT_TOKEN; it needs N8N_HOST to be the public HTTPS name Telegram will call).
node "$REPO/provision.mjs" telegram-webhook "$N8N_WEBHOOK_URL" \
  || echo "n8n-import: WARNING: the Telegram webhook is not registered (see above); fix it and rerun n8n-import" >&2
echo "n8n-import: done ($(echo "$ids" | wc -l) workflows published)"
