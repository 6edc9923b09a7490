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
interrupted=""
# Ctrl-C reaches the cluster too; otherwise (runserver failed, TERM) it is told to stop.
trap '[ -n "$interrupted" ] || kill $cluster 2>/dev/null || true; wait $cluster 2>/dev/null || true' EXIT
# Ctrl-C is how this ends: runserver then exits non-zero, which is no failure of `make run`.
trap 'interrupted=1' INT
status=0
$PY manage.py runserver "$ADDR" || status=$?
if [ -n "$interrupted" ]; then
  exit 0
fi
exit "$status"
