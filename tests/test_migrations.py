"""Migrations: a blank database migrates to exactly sql/schema.txt; a second run is a no-op."""

from pathlib import Path

import psycopg
import pytest

from steward.core import migrations
from steward.core.schema_dump import dump_schema
from support import create_database, drop_database

SCHEMA_TXT = Path(__file__).resolve().parents[1] / "sql" / "schema.txt"


@pytest.fixture
def blank_database(admin_pg_url):
    url = create_database(admin_pg_url)
    yield url
    drop_database(admin_pg_url, url)


def test_blank_database_migrates_to_exactly_the_committed_schema(blank_database):
    applied = migrations.migrate(blank_database)
    assert applied == [m.name for m in migrations.available()]
    with psycopg.connect(blank_database) as conn:
        assert dump_schema(conn) == SCHEMA_TXT.read_text(), (
            "schema differs from sql/schema.txt: run scripts/schema-snapshot and review the diff"
        )


def test_second_migrate_is_a_no_op(blank_database):
    migrations.migrate(blank_database)
    with psycopg.connect(blank_database) as conn:
        before = dump_schema(conn)
    assert migrations.migrate(blank_database) == []
    with psycopg.connect(blank_database) as conn:
        assert dump_schema(conn) == before
        assert migrations.check_current(conn) == migrations.expected_version()


def test_out_of_date_schema_is_refused_naming_both_versions(blank_database):
    with psycopg.connect(blank_database) as conn:
        with pytest.raises(migrations.SchemaOutOfDate) as err:
            migrations.check_current(conn)
    assert "version 0" in str(err.value)
    assert f"expects {migrations.expected_version()}" in str(err.value)
    assert "steward migrate" in str(err.value)


def test_a_failing_migration_leaves_nothing_behind(blank_database, tmp_path):
    (tmp_path / "0001_good.sql").write_text("CREATE TABLE good (id int);")
    (tmp_path / "0002_bad.sql").write_text("CREATE TABLE half (id int); SELECT no_such_function();")
    with pytest.raises(psycopg.Error):
        migrations.migrate(blank_database, tmp_path)
    with psycopg.connect(blank_database) as conn:
        assert migrations.applied_versions(conn) == [1]
        assert conn.execute("SELECT to_regclass('half')").fetchone()[0] is None


def test_get_graph_neighbors_returns_neighbors_with_edge_types(db):
    db.execute(
        "INSERT INTO graph_nodes (id, client_id, node_type, name) VALUES "
        "('bp', 'c', 'blueprint', 'Audit'), ('wf', 'c', 'workflow', 'Kickoff'), "
        "('tpl', 'c', 'template', 'Kickoff call')"
    )
    db.execute(
        "INSERT INTO graph_edges (client_id, source_id, target_id, edge_type) VALUES "
        "('c', 'bp', 'wf', 'contains'), ('c', 'wf', 'tpl', 'uses')"
    )
    rows = db.execute("SELECT * FROM get_graph_neighbors('wf') ORDER BY neighbor_id").fetchall()
    assert [(r["neighbor_id"], r["edge_type"], r["direction"]) for r in rows] == [
        ("bp", "contains", "in"),
        ("tpl", "uses", "out"),
    ]
