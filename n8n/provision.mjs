// Helpers scripts/n8n runs with the pinned Node: render credentials from the environment, hash the
// owner password, get an API key, publish workflows. Node so that no Python is needed to run n8n.
// Usage: node provision.mjs <command> ...   (see the switch at the bottom)
import { chmodSync, readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const fail = (message) => {
  console.error(`n8n: error: ${message}`);
  process.exit(1);
};
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// `${VAR}` and `${VAR:-default}` in string values; a credential missing any variable is skipped.
function renderCredentials(templatePath, outPath) {
  const { rendered, skipped } = render(templatePath);
  for (const cred of skipped) console.error(`n8n: credential "${cred.name}" skipped: set ${cred.missing.join(', ')}`);
  for (const cred of rendered) console.error(`n8n: credential "${cred.name}" (${cred.type}) from the environment`);
  writeFileSync(outPath, JSON.stringify(rendered), { mode: 0o600 });
  chmodSync(outPath, 0o600);
}

function render(templatePath) {
  const template = JSON.parse(readFileSync(templatePath, 'utf8'));
  const rendered = [];
  const skipped = [];
  for (const cred of template) {
    const missing = new Set();
    const fill = (value) =>
      typeof value === 'string'
        ? value.replace(/\$\{([A-Z0-9_]+)(?::-([^}]*))?\}/g, (_, name, fallback) => {
            const found = process.env[name];
            if (found) return found;
            if (fallback !== undefined) return fallback;
            missing.add(name);
            return '';
          })
        : value !== null && typeof value === 'object' // nested data, e.g. OAuth2 oauthTokenData
          ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fill(v)]))
          : value;
    const data = fill(cred.data);
    if (missing.size) skipped.push({ id: cred.id, name: cred.name, missing: [...missing] });
    else rendered.push({ id: cred.id, name: cred.name, type: cred.type, data });
  }
  return { rendered, skipped };
}

function hashPassword(appDir, password) {
  const bcrypt = createRequire(join(appDir, 'package.json'))('bcryptjs');
  process.stdout.write(bcrypt.hashSync(password, 10));
}

function workflows(dirs) {
  const found = [];
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
      found.push(JSON.parse(readFileSync(join(dir, file), 'utf8')));
    }
  }
  return found;
}

async function call(url, { method = 'GET', headers = {}, body } = {}) {
  const response = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: response.status, json, text, headers: response.headers };
}

// Keep the stored key if it still works; otherwise log in as the owner and mint a new one (§4.2).
async function ensureApiKey(base, email, password, keyFile) {
  if (existsSync(keyFile)) {
    const key = readFileSync(keyFile, 'utf8').trim();
    const probe = await call(`${base}/api/v1/workflows?limit=1`, { headers: { 'X-N8N-API-KEY': key } });
    if (probe.status === 200) return;
  }
  const login = await call(`${base}/rest/login`, {
    method: 'POST',
    body: { emailOrLdapLoginId: email, password },
  });
  if (login.status !== 200) fail(`owner login failed (${login.status}): ${login.text.slice(0, 200)}`);
  const cookie = (login.headers.getSetCookie?.() ?? [])
    .map((c) => c.split(';')[0])
    .join('; ');
  const auth = { cookie };
  const scopes = await call(`${base}/rest/api-keys/scopes`, { headers: auth });
  if (scopes.status !== 200) fail(`cannot list API key scopes (${scopes.status}): ${scopes.text.slice(0, 200)}`);
  const created = await call(`${base}/rest/api-keys`, {
    method: 'POST',
    headers: auth,
    body: { label: `steward-${new Date().toISOString()}`, expiresAt: null, scopes: scopes.json.data },
  });
  const raw = created.json?.data?.rawApiKey;
  if (!raw) fail(`cannot create an API key (${created.status}): ${created.text.slice(0, 200)}`);
  writeFileSync(keyFile, raw + '\n', { mode: 0o600 });
  chmodSync(keyFile, 0o600);
  console.error(`n8n: API key written to ${keyFile}`);
}

// Publishing through the public API takes effect live, unlike the CLI while n8n runs (§3, §4.3).
// Webhooks register a moment later, so wait until each authenticated webhook answers 403 (its auth
// check) instead of 404; an unauthenticated probe never runs the workflow.
// Referenced workflows first (sub-workflows, the error workflow): n8n refuses to publish a
// workflow whose Execute Workflow node names one that is not published yet.
function dependenciesFirst(list) {
  const byId = new Map(list.map((wf) => [wf.id, wf]));
  const placed = new Set();
  const ordered = [];
  const visit = (wf, trail) => {
    if (placed.has(wf.id) || trail.has(wf.id)) return;
    trail.add(wf.id);
    const refs = (wf.nodes ?? [])
      .filter((node) => node.type === 'n8n-nodes-base.executeWorkflow')
      .map((node) => node.parameters?.workflowId)
      .map((ref) => (ref && typeof ref === 'object' ? ref.value : ref));
    for (const id of [wf.settings?.errorWorkflow, ...refs]) if (byId.has(id)) visit(byId.get(id), trail);
    placed.add(wf.id);
    ordered.push(wf);
  };
  for (const wf of list) visit(wf, new Set());
  return ordered;
}

// Triggers n8n registers with another service when it publishes (Telegram's setWebhook...): they
// need their credential, and the service must accept n8n's webhook URL (Telegram wants public
// HTTPS, see N8N_WEBHOOK_URL). Such a workflow that cannot be published is reported, not fatal.
const INTERNAL_TRIGGERS = new Set(['n8n-nodes-base.errorTrigger', 'n8n-nodes-base.executeWorkflowTrigger',
  'n8n-nodes-base.scheduleTrigger', 'n8n-nodes-base.manualTrigger']);
const externalTriggers = (wf) => (wf.nodes ?? []).filter((n) => /Trigger$/.test(n.type) && !INTERNAL_TRIGGERS.has(n.type));

async function publish(base, keyFile, dirs) {
  const key = readFileSync(keyFile, 'utf8').trim();
  const headers = { 'X-N8N-API-KEY': key };
  const absent = new Map(render(new URL('./credentials.template.json', import.meta.url)).skipped.map((c) => [c.id, c]));
  const all = [];
  for (const wf of dependenciesFirst(workflows(dirs).filter((wf) => wf.id))) {
    const [needs] = externalTriggers(wf).flatMap((n) => Object.values(n.credentials ?? {}))
      .map((ref) => absent.get(ref?.id)).filter(Boolean);
    if (needs) {
      console.error(`n8n: ${wf.id} left unpublished: its trigger needs the credential "${needs.name}" `
        + `(set ${needs.missing.join(', ')}, then scripts/n8n restart)`);
      continue;
    }
    let last;
    for (let attempt = 0; attempt < 5; attempt++) {
      last = await call(`${base}/api/v1/workflows/${encodeURIComponent(wf.id)}/publish`, { method: 'POST', headers });
      if (last.status === 200) break;
      await sleep(1000);
    }
    if (last.status !== 200 && externalTriggers(wf).length) {
      console.error(`n8n: warning: ${wf.id} left unpublished, its trigger could not be registered `
        + `(${last.status}): ${last.text.slice(0, 300)}`);
      continue;
    }
    if (last.status !== 200) fail(`publishing workflow ${wf.id} failed (${last.status}): ${last.text.slice(0, 300)}`);
    console.error(`n8n: published ${wf.id}`);
    all.push(wf);
  }
  const hooks = all.flatMap((wf) => wf.nodes.filter((n) => n.type === 'n8n-nodes-base.webhook'
    && (n.parameters?.authentication ?? 'none') !== 'none' && !String(n.parameters?.path ?? '').includes(':')));
  for (const hook of hooks) {
    const url = `${base}/webhook/${String(hook.parameters.path).replace(/^\/+/, '')}`;
    const method = hook.parameters.httpMethod ?? 'GET';
    let status = 404;
    for (let attempt = 0; attempt < 60 && status === 404; attempt++) {
      if (attempt) await sleep(500);
      status = (await fetch(url, { method })).status;
    }
    if (status === 404) fail(`webhook ${method} ${url} is still not registered 30 s after publishing`);
  }
  if (hooks.length) console.error(`n8n: ${hooks.length} webhook(s) live`);
}

// Point the Telegram bot at telegram-chat's webhook (setWebhook), with TELEGRAM_WEBHOOK_SECRET as the
// secret_token: Telegram then sends it as X-Telegram-Bot-Api-Secret-Token on every update, and the
// webhook's Header Auth credential refuses any request without it (403). The secret is random per
// deployment, unlike the one n8n's Telegram Trigger derives from the workflow and node ids, which are
// in this repository. Without TELEGRAM_BOT_TOKEN there is no bot: nothing to register.
async function telegramWebhook(webhookBase) {
  const token = process.env.TELEGRAM_BOT_TOKEN;
  if (!token) {
    console.error('n8n: Telegram webhook not registered: TELEGRAM_BOT_TOKEN is unset');
    return;
  }
  const secret = process.env.TELEGRAM_WEBHOOK_SECRET ?? '';
  if (!/^[A-Za-z0-9_-]{16,256}$/.test(secret)) {
    fail('TELEGRAM_WEBHOOK_SECRET must be 16-256 characters of A-Z, a-z, 0-9, _ and - (e.g. openssl rand -hex 32)');
  }
  const api = (process.env.TELEGRAM_API_BASE_URL || 'https://api.telegram.org').replace(/\/+$/, '');
  const url = `${webhookBase.replace(/\/+$/, '')}/webhook/telegram/update`;
  let answer;
  try {
    answer = await call(`${api}/bot${token}/setWebhook`, {
      method: 'POST',
      body: { url, secret_token: secret, allowed_updates: ['message', 'callback_query'] },
    });
  } catch (error) {
    const why = error.cause?.code ?? error.cause?.errors?.[0]?.code ?? error.name; // never the URL: it holds the token
    fail(`Telegram setWebhook could not be sent to ${api}: ${why}`);
  }
  if (answer.status !== 200 || answer.json?.ok !== true) {
    fail(`Telegram refused setWebhook for ${url} (${answer.status}): ${answer.json?.description ?? answer.text.slice(0, 200)}`);
  }
  console.error(`n8n: Telegram webhook set to ${url} (secret token from TELEGRAM_WEBHOOK_SECRET)`);
}

const [command, ...args] = process.argv.slice(2);
switch (command) {
  case 'credentials':
    renderCredentials(args[0], args[1]);
    break;
  case 'hash':
    hashPassword(args[0], process.env.N8N_OWNER_PASSWORD_PLAIN ?? fail('N8N_OWNER_PASSWORD_PLAIN is unset'));
    break;
  case 'api-key':
    await ensureApiKey(args[0], args[1], process.env.N8N_OWNER_PASSWORD_PLAIN, args[2]);
    break;
  case 'publish':
    await publish(args[0], args[1], args.slice(2));
    break;
  case 'telegram-webhook':
    await telegramWebhook(args[0] ?? fail('usage: provision.mjs telegram-webhook <n8n webhook base URL>'));
    break;
  default:
    fail(`unknown command ${command}; use credentials|hash|api-key|publish|telegram-webhook`);
}
