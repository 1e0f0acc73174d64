"""`steward backup | restore | restore-drill`, registered by `steward.cli` when this package is present."""

from __future__ import annotations

from pathlib import Path

import click

from steward.core.config import Settings


def _settings() -> Settings:
    from steward.cli import _settings as load

    return load()


def _live_url(settings: Settings) -> str:
    from steward.app import database_url

    return database_url(settings)


def _key(settings: Settings) -> str | None:
    value = settings.steward_backup_key.get_secret_value().strip() if settings.steward_backup_key else ""
    return value or None


def _fail(exc: Exception) -> click.ClickException:
    return click.ClickException(str(exc))


def _errors() -> tuple[type[Exception], ...]:
    from steward.ops.archive import ArchiveError
    from steward.ops.backup import BackupError
    from steward.ops.crypto import BackupKeyError
    from steward.ops.pgtools import ToolNotFound
    from steward.ops.restore import RestoreError

    return (ArchiveError, BackupError, BackupKeyError, ToolNotFound, RestoreError)


def _mb(size: int) -> str:
    return f"{size / 1_048_576:.2f} MB"


def _latest(settings: Settings, directory: Path | None) -> Path:
    from steward.ops.archive import list_archives

    folder = directory or settings.backup_dir
    found = list_archives(folder)
    if not found:
        raise click.ClickException(f"no archive in {folder}; pass one, or run `steward backup` first")
    return found[-1]


def register(cli: click.Group) -> None:
    @cli.group(invoke_without_command=True)
    @click.option("--dir", "directory", type=click.Path(path_type=Path), help="Overrides STEWARD_BACKUP_DIR")
    @click.option("--keep", type=click.IntRange(min=1), help="Overrides STEWARD_BACKUP_KEEP")
    @click.pass_context
    def backup(ctx: click.Context, directory: Path | None, keep: int | None) -> None:
        """Write a timestamped archive of the database (then keep the newest N); or list, keygen."""
        if ctx.invoked_subcommand is not None:
            return
        from steward.ops.backup import take_backup

        settings = _settings()
        folder = directory or settings.backup_dir
        try:
            result = take_backup(_live_url(settings), folder, keep or settings.steward_backup_keep, _key(settings))
        except _errors() as exc:
            raise _fail(exc) from None
        m = result.manifest
        click.echo(
            f"schema version {m.schema_version}, {m.total_rows} rows in {len(m.tables)} tables, "
            f"{'encrypted' if m.encrypted else 'NOT encrypted (set STEWARD_BACKUP_KEY)'}, "
            f"{_mb(result.path.stat().st_size)} in {result.seconds:.1f} s"
        )
        for old in result.deleted:
            click.echo(f"retention ({keep or settings.steward_backup_keep}): deleted {old.name}")
        click.echo(str(result.path))

    @backup.command("list")
    @click.option("--dir", "directory", type=click.Path(path_type=Path), help="Overrides STEWARD_BACKUP_DIR")
    def backup_list(directory: Path | None) -> None:
        """List archives, oldest first, with their manifest."""
        from steward.ops.archive import ArchiveError, list_archives, read_manifest

        folder = directory or _settings().backup_dir
        for path in list_archives(folder):
            try:
                m = read_manifest(path)
            except ArchiveError as exc:
                click.echo(f"{path.name}  unreadable: {exc}")
                continue
            lock = "encrypted" if m.encrypted else "plain"
            click.echo(
                f"{path.name}  {_mb(path.stat().st_size):>10}  schema {m.schema_version}  "
                f"{m.total_rows:>8} rows  {lock}  steward {m.steward_version}"
            )

    @backup.command("keygen")
    def backup_keygen() -> None:
        """Print a new STEWARD_BACKUP_KEY (keep a copy off the server: without it, archives are lost)."""
        from steward.ops.crypto import generate_key

        click.echo(generate_key())

    @cli.command()
    @click.argument("archive_path", metavar="ARCHIVE", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--database-url", help="Restore here instead of DATABASE_URL (must be an empty database)")
    @click.option("--reindex/--no-reindex", default=True, show_default=True, help="Rebuild Qdrant afterwards")
    def restore(archive_path: Path, database_url: str | None, reindex: bool) -> None:
        """Restore ARCHIVE into an empty database, verify row counts, migrate, then reindex."""
        from steward.ops.restore import restore as run_restore

        settings = _settings()
        live = _live_url(settings)
        target = database_url or live
        reindex_settings = settings if reindex and target == live else None
        if reindex and reindex_settings is None:
            click.echo("the target is not DATABASE_URL: skipping reindex (run `steward reindex` against it later)")
        try:
            report = run_restore(target, archive_path, _key(settings), reindex_settings, say=click.echo)
        except _errors() as exc:
            raise _fail(exc) from None
        timings = ", ".join(f"{k} {v:.1f} s" for k, v in report.timings.items())
        click.echo(f"restored {sum(report.restored.values())} rows in {len(report.restored)} tables ({timings})")
        if report.migrated:
            click.echo(f"migrated the restored schema: {', '.join(report.migrated)}")
        if report.reindexed is not None:
            click.echo("reindexed: " + ", ".join(f"{n}={c}" for n, c in report.reindexed.items()))

    @cli.command("restore-drill")
    @click.argument("archive_path", metavar="[ARCHIVE]", required=False, type=click.Path(exists=True, path_type=Path))
    @click.option("--server-url", help="Create the scratch database on this server (default: DATABASE_URL's)")
    @click.option("--keep", is_flag=True, help="Keep the scratch database for inspection")
    @click.option("--reindex/--no-reindex", default=True, show_default=True, help="Time a rebuild of the vectors too")
    def restore_drill(archive_path: Path | None, server_url: str | None, keep: bool, reindex: bool) -> None:
        """Restore an archive (default: the newest) into a scratch database; report RTO and row diffs."""
        from steward.ops.drill import run_drill

        settings = _settings()
        path = archive_path or _latest(settings, None)
        try:
            report = run_drill(settings, _live_url(settings), path, server_url, keep, reindex, say=click.echo)
        except _errors() as exc:
            raise _fail(exc) from None
        click.echo(report.table())
        steps = ", ".join(f"{k} {v:.1f} s" for k, v in report.restore.timings.items())
        click.echo(f"RTO {report.rto_seconds:.1f} s ({steps}) for {path.name}")
        if report.kept:
            click.echo(f"scratch database kept: {report.scratch_database}")
        if report.mismatches:
            raise click.ClickException(f"restored counts differ from the archive in {sorted(report.mismatches)}")
        click.echo("drill passed: every table restored with the archived row count")
