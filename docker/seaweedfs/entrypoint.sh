#!/bin/sh
# SeaweedFS for the compose stack, locked like the embedded store (include/sinergi/local/seaweed.py):
# - security.toml (JWT keys for volume reads/writes and the filer, gRPC mutual TLS for every
#   component and client) and the S3 identities come from the sinergi-preflight service, rendered by
#   docker/seaweedfs/render_config.py into the seaweedfs-conf volume (mounted read-only here);
# - filer and master HTTP APIs off (-disableHttp -filer.disableHttp), telemetry, Iceberg, Lance,
#   WebDAV off, no IAM API, no bucket auto-creation, no deletion of non-empty buckets;
# - every port binds 127.0.0.1 inside the container except S3 (-s3.ip.bind): other containers can
#   reach nothing but the S3 API, and only over the internal `store` network;
# - umask 077, a 0700 data folder, and an empty environment for weed (no AWS_*: weed would add a
#   hidden Admin identity; no WEED_*: they override security.toml).
# Extra arguments are appended (the security tests run this script on free ports).
set -eu
CONF="${SINERGI_WEED_CONF:-/etc/sinergi}"
DATA="${SINERGI_WEED_DATA:-/data}"
S3_BIND="${SINERGI_WEED_S3_BIND:-0.0.0.0}"
WEED="$(command -v weed)"
for f in security.toml identities.json pki/ca.crt pki/internal.crt pki/internal.key; do
  if [ ! -r "$CONF/$f" ]; then
    echo "seaweedfs: $CONF/$f is missing or unreadable (rendered by sinergi-preflight); refusing to start without its locks" >&2
    exit 1
  fi
done
umask 077
mkdir -p "$DATA/store" "$DATA/logs"
chmod 700 "$DATA" "$DATA/store" "$DATA/logs"
rm -f "$DATA/store/mini.options"
cd "$CONF"
exec env -i "$WEED" -config_dir="$CONF" -logdir="$DATA/logs" server -dir="$DATA/store" \
  -ip=127.0.0.1 -ip.bind=127.0.0.1 -volume.port=8081 -volume.max=0 \
  -disableHttp -filer -filer.disableHttp -master.telemetry=false \
  -s3 -s3.port=8333 -s3.ip.bind="$S3_BIND" -s3.config="$CONF/identities.json" -s3.iam=false \
  -s3.port.iceberg=0 -s3.port.lance=0 -s3.allowDeleteBucketNotEmpty=false -s3.autoCreateBucket=false \
  -filer.localSocket="$DATA/filer.sock" -s3.localSocket="$DATA/s3.sock" "$@"
