#!/usr/bin/env bash
# One-shot initialisation (the `airflow-init` service): metadata DB schema, FAB users, buckets.
# Idempotent: safe to run on every `docker compose up`.
set -euo pipefail

echo "[init] airflow db migrate"
airflow db migrate

echo "[init] pool sinergi_heavy (${SINERGI_HEAVY_POOL_SLOTS:-2} slots): the memory-heavy validate/share tasks"
airflow pools set sinergi_heavy "${SINERGI_HEAVY_POOL_SLOTS:-2}" \
  "validate/share tasks holding a month's table in memory (SINERGI_HEAVY_POOL_SLOTS)"

echo "[init] FAB users"
create_user() {  # username password role (FAB prints "already exist" and exits 0 for a known user)
  airflow users create --username "$1" --password "$2" --role "$3" \
    --firstname "$1" --lastname "Sinergi" --email "$1@sinergi.invalid"
}
create_user "${SINERGI_ADMIN_USER:?set it in docker/.env}" "${SINERGI_ADMIN_PASSWORD:?set it in docker/.env}" Admin
if [[ -n "${SINERGI_VIEWER_USER:-}" ]]; then
  create_user "$SINERGI_VIEWER_USER" "${SINERGI_VIEWER_PASSWORD:?set it in docker/.env}" Viewer
fi

echo "[init] object-store buckets (owner zones + one per party), created by the provisioner identity"
# The pipeline identity cannot create buckets (least privilege); the provisioner (Admin:<bucket>, a new
# key at every `up`, rendered by sinergi-preflight) can, and is used for nothing else.
python - <<'PY'
import time

from sinergi.s3 import S3ObjectStore
from sinergi.settings import S3Settings, Settings, read_env_file
from pathlib import Path

prov = read_env_file(Path("/opt/airflow/seaweedfs-conf/provisioner.env"))
endpoint = Settings().pipeline_s3().endpoint
store = S3ObjectStore(S3Settings(endpoint, prov["SINERGI_PROVISIONER_ACCESS_KEY"], prov["SINERGI_PROVISIONER_SECRET_KEY"]),
                      attempts=10, backoff=1.0)
for bucket in prov["SINERGI_BUCKETS"].split(","):
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
