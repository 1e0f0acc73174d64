"""`steward link create --user NAME`: a one-time code that binds a Telegram chat to a user.

Registered by `steward.cli` when this package is present. The code is printed alone on the last
line; the user sends `/link CODE` to the bot before it expires.
"""

from __future__ import annotations

import click


def register(cli: click.Group) -> None:
    @cli.group()
    def link() -> None:
        """Bind Telegram chats to users with one-time codes."""

    @link.command("create")
    @click.option("--user", "client_id", required=True, help="The user's client id, e.g. alice")
    @click.option(
        "--ttl-minutes",
        default=30,
        show_default=True,
        type=click.IntRange(1, 10_080),
        help="How long the code stays valid",
    )
    @click.option("--timezone", default=None, help="The user's IANA timezone, e.g. Europe/Berlin")
    def link_create(client_id: str, ttl_minutes: int, timezone: str | None) -> None:
        """Issue a one-time link code for USER."""
        import psycopg
        from psycopg.rows import dict_row
        from pydantic import TypeAdapter, ValidationError

        from steward.chat import identity
        from steward.cli import _database_url, _settings
        from steward.core.errors import ApiError
        from steward.core.types import ClientId

        try:
            TypeAdapter(ClientId).validate_python(client_id)
        except ValidationError:
            raise click.ClickException(f"--user {client_id!r}: use letters, digits and . _ : @ - only") from None
        with psycopg.connect(_database_url(_settings()), row_factory=dict_row) as conn:
            try:
                code, expires_at = identity.create_code(conn, client_id, ttl_minutes, timezone)
            except ApiError as exc:
                raise click.ClickException(exc.message) from None
        shown = identity.shown(code)
        click.echo(
            f"Link code for {client_id}, valid until {expires_at:%Y-%m-%d %H:%M %Z}. "
            f"Send this to the Steward bot in Telegram: /link {shown}"
        )
        click.echo(shown)
