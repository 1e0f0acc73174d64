#!/bin/sh
# Runs once, when the Postgres volume is first initialised (docker-entrypoint-initdb.d): one role
# and one database each for Steward and n8n, with passwords from the environment. psql variables
# (:'name') quote the passwords, so any character is safe.
set -eu
: "${STEWARD_DB_PASSWORD:?set STEWARD_DB_PASSWORD in compose/.env}"
: "${N8N_DB_PASSWORD:?set N8N_DB_PASSWORD in compose/.env}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
     -v steward_password="$STEWARD_DB_PASSWORD" -v n8n_password="$N8N_DB_PASSWORD" <<'SQL'
-- CREATEDB lets `steward restore-drill` create and drop its scratch database.
CREATE ROLE steward LOGIN CREATEDB PASSWORD :'steward_password';
CREATE DATABASE steward OWNER steward;
CREATE ROLE n8n LOGIN PASSWORD :'n8n_password';
CREATE DATABASE n8n OWNER n8n;
REVOKE ALL ON DATABASE steward FROM PUBLIC;
REVOKE ALL ON DATABASE n8n FROM PUBLIC;
SQL
