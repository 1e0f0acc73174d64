"""Operations: backups, restores and restore drills of Steward's Postgres database.

    pgtools   find a pg_dump/pg_restore whose major version fits the server
    crypto    optional encryption of an archive's dump (Fernet, in authenticated chunks)
    archive   the archive file: a tar with manifest.json and the dump, written atomically
    backup    `steward backup`: snapshot, row counts, pg_dump, archive, retention
    restore   `steward restore`: into an empty database only, verify counts, migrate, reindex
    drill     `steward restore-drill`: restore into a scratch database, report RTO and diffs

Postgres is the only thing backed up: Qdrant is rebuilt from it (`steward reindex`) and Redis
holds nothing that matters.
"""
