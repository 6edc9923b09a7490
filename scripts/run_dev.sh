#!/usr/bin/env bash
# The admin and the django-q2 cluster side by side; Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
ADDR="${RUN_ADDR:-127.0.0.1:8000}"
echo
echo "  Admin:        http://${ADDR}/admin/"
echo "  Coordinator:  koordinator / demo-coordinator"
echo "  Superuser:    create one with: $PY manage.py createsuperuser"
echo
$PY manage.py qcluster &
cluster=$!
trap 'kill $cluster 2>/dev/null; wait $cluster 2>/dev/null' EXIT INT TERM
$PY manage.py runserver "$ADDR"
