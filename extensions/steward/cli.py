"""The `steward` command: serve, migrate, reindex, keys, workflows.

Every subcommand reads the same settings as the server, so `.venv/bin/steward` works against the
same (embedded or external) database the API uses.
"""

from __future__ import annotations

import logging
import sys

import click
from pydantic import SecretStr

from steward.core.config import ConfigError, Settings, load_settings


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _database_url(settings: Settings) -> str:
    from steward.app import database_url

    return database_url(settings)


@click.group()
def cli() -> None:
    """Steward: planning and memory services for n8n."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@cli.command()
def migrate() -> None:
    """Apply pending SQL migrations and seed prompt templates."""
    from steward.core import migrations, prompts

    settings = _settings()
    url = _database_url(settings)
    applied = migrations.migrate(url)
    seeded = prompts.seed(url)
    click.echo(f"applied {len(applied)} migration(s){': ' + ', '.join(applied) if applied else ''}")
    click.echo(f"schema at version {migrations.expected_version()}; prompt versions added: {seeded}")


@cli.command()
@click.option("--host", default=None, help="Overrides STEWARD_HOST")
@click.option("--port", default=None, type=int, help="Overrides STEWARD_PORT")
@click.option("--threads", default=8, show_default=True, help="Request threads in the one worker process")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    help="Worker processes (more than 1 needs QDRANT_URL: Qdrant Edge is single-process)",
)
def serve(host: str | None, port: int | None, threads: int, workers: int) -> None:
    """Serve the API with gunicorn (refuses to start on an out-of-date schema)."""
    import psycopg

    from steward.core import auth, migrations
    from steward.server import run_gunicorn

    settings = _settings()
    if workers > 1 and not settings.qdrant_url:
        raise click.ClickException("--workers > 1 needs QDRANT_URL: the embedded Qdrant Edge allows one process")
    url = _database_url(settings)
    with psycopg.connect(url) as conn:
        try:
            migrations.check_current(conn)
        except migrations.SchemaOutOfDate as exc:
            raise click.ClickException(str(exc)) from None
        if settings.embedded_database and settings.steward_first_run_key and auth.count_active_keys(conn) == 0:
            _, plaintext = auth.create_key(conn, "first-run", ["read", "write", "admin"])
            conn.commit()
            click.echo("Created your first API key (admin). It is shown once; keep it:")
            click.echo(f"  STEWARD_API_KEY={plaintext}")
    settings = settings.model_copy(
        update={
            "database_url": SecretStr(url),
            **({"steward_host": host} if host else {}),
            **({"steward_port": port} if port else {}),
        }
    )
    click.echo(
        f"Steward API on http://{settings.steward_host}:{settings.steward_port} "
        f"(health: /health/ready, docs: /openapi.json)"
    )
    sys.stdout.flush()
    run_gunicorn(settings, workers=workers, threads=threads)


@cli.command()
@click.option("--collection", "collections", multiple=True, help="Only these collections (default: all)")
def reindex(collections: tuple[str, ...]) -> None:
    """Rebuild every Qdrant collection from Postgres."""
    from tqdm import tqdm

    from steward.app import create_app
    from steward.core import reindex as reindexer
    from steward.core.vectors import COLLECTIONS

    settings = _settings()
    app = create_app(settings.model_copy(update={"database_url": SecretStr(_database_url(settings))}))
    rt = app.extensions["steward"]
    bars: dict[str, tqdm] = {}

    def progress(collection: str, done: int, total: int) -> None:
        bar = bars.get(collection) or bars.setdefault(collection, tqdm(total=total, desc=collection, unit="doc"))
        bar.update(done - bar.n)

    written = reindexer.rebuild(rt, collections or COLLECTIONS, progress=progress)
    for bar in bars.values():
        bar.close()
    rt.close()
    click.echo("reindexed: " + ", ".join(f"{name}={count}" for name, count in written.items()))


@cli.group()
def keys() -> None:
    """Create, list and revoke API keys."""


@keys.command("create")
@click.option("--name", default="api", show_default=True)
@click.option("--scopes", default="read,write", show_default=True, help="Comma-separated: read,write,admin")
def keys_create(name: str, scopes: str) -> None:
    """Create a key; the plaintext is printed once, alone on the last line."""
    import psycopg

    from steward.core import auth

    with psycopg.connect(_database_url(_settings())) as conn:
        try:
            key_id, plaintext = auth.create_key(conn, name, [s.strip() for s in scopes.split(",") if s.strip()])
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"created key {key_id} ({name}, scopes {scopes}); store it now, it is not shown again:")
    click.echo(plaintext)


@keys.command("revoke")
@click.argument("key_id_or_prefix")
def keys_revoke(key_id_or_prefix: str) -> None:
    """Revoke a key by id or prefix (the 8 hex characters after `stw_`)."""
    import psycopg

    from steward.core import auth

    with psycopg.connect(_database_url(_settings())) as conn:
        if not auth.revoke_key(conn, key_id_or_prefix):
            raise click.ClickException(f"no active key with id or prefix {key_id_or_prefix!r}")
    click.echo(f"revoked {key_id_or_prefix}")


@keys.command("list")
def keys_list() -> None:
    """List keys (never their secrets)."""
    import psycopg
    from psycopg.rows import dict_row

    from steward.core import auth

    with psycopg.connect(_database_url(_settings()), row_factory=dict_row) as conn:
        for key in auth.list_keys(conn):
            state = "revoked" if key["revoked_at"] else "active"
            click.echo(f"{key['id']}  stw_{key['prefix']}_…  {','.join(key['scopes']):<16} {state:<8} {key['name']}")


@cli.command()
def openapi() -> None:
    """Print the OpenAPI document (no database needed for the routes, but the app connects)."""
    import json

    from steward.app import create_app
    from steward.core.openapi import build_openapi

    settings = _settings()
    app = create_app(settings.model_copy(update={"database_url": SecretStr(_database_url(settings))}))
    click.echo(json.dumps(build_openapi(app), indent=2))
    app.extensions["steward"].close()


def _register_command_groups() -> None:
    """Subcommands owned by other packages (workflows, backup, chat links) register themselves."""
    import importlib

    for module_name in ("steward.workflows.cli", "steward.ops.cli", "steward.chat.cli"):
        importlib.import_module(module_name).register(cli)


def main() -> None:
    _register_command_groups()
    cli()


if __name__ == "__main__":
    main()
