#!/bin/sh
# Creates one login role and one database per service, the role owning its database.
# Run once by the postgres image's entrypoint on an empty data directory (the stack chart
# mounts it from a ConfigMap; compose.yaml mounts this same file).
# For each name N in $APP_DATABASES the password is read from $<N>_DB_PASSWORD (upper case).
set -eu
for name in ${APP_DATABASES:-}; do
  var="$(printf '%s' "$name" | tr '[:lower:]-' '[:upper:]_')_DB_PASSWORD"
  if ! password="$(printenv "$var")"; then
    echo "init-databases: $var is not set" >&2
    exit 1
  fi
  psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres \
    --set=name="$name" --set=password="$password" <<'SQL'
CREATE ROLE :"name" LOGIN PASSWORD :'password';
CREATE DATABASE :"name" OWNER :"name";
SQL
  echo "init-databases: created role and database $name"
done
