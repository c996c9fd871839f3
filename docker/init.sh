#!/usr/bin/env bash
# One-shot initialisation (the `airflow-init` service): metadata DB schema, FAB users, buckets.
# Idempotent: safe to run on every `docker compose up`.
set -euo pipefail

echo "[init] airflow db migrate"
airflow db migrate

echo "[init] FAB users"
create_user() {  # username password role (FAB prints "already exist" and exits 0 for a known user)
  airflow users create --username "$1" --password "$2" --role "$3" \
    --firstname "$1" --lastname "Sinergi" --email "$1@sinergi.invalid"
}
create_user "${SINERGI_ADMIN_USER:?set it in docker/.env}" "${SINERGI_ADMIN_PASSWORD:?set it in docker/.env}" Admin
if [[ -n "${SINERGI_VIEWER_USER:-}" ]]; then
  create_user "$SINERGI_VIEWER_USER" "${SINERGI_VIEWER_PASSWORD:?set it in docker/.env}" Viewer
fi

echo "[init] object-store buckets (owner zones + one per party from the sharing policy)"
python - <<'PY'
import time

from sinergi.layout import OWNER_BUCKETS
from sinergi.policy import load_policy
from sinergi.s3 import S3ObjectStore
from sinergi.settings import Settings

store = S3ObjectStore(Settings().pipeline_s3(), attempts=10, backoff=1.0)
for bucket in [*OWNER_BUCKETS, *(p.bucket for p in load_policy().parties.values())]:
    for attempt in range(30):  # the filer may still be allocating its first volumes
        try:
            store.ensure_bucket(bucket)
            print(f"[init] bucket {bucket} ok")
            break
        except Exception as e:  # noqa: BLE001
            if attempt == 29:
                raise
            print(f"[init] bucket {bucket}: {e}; retrying")
            time.sleep(2)
PY
echo "[init] done"
