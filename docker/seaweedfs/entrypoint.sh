#!/bin/sh
# Render SeaweedFS's S3 identities from the environment (never committed), then start weed.
# - the pipeline identity is Admin (creates buckets, writes every zone);
# - each party gets a read-only identity limited to its own bucket;
# - no anonymous identity: with identities configured, unauthenticated requests are denied.
# AWS_* variables are removed first: weed would silently add them as an extra Admin identity.
set -eu
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN || true
: "${SINERGI_S3_PIPELINE_ACCESS_KEY:?set it in docker/.env}"
: "${SINERGI_S3_PIPELINE_SECRET_KEY:?set it in docker/.env}"
: "${SINERGI_S3_KP2MI_ACCESS_KEY:?set it in docker/.env}"
: "${SINERGI_S3_KP2MI_SECRET_KEY:?set it in docker/.env}"
: "${SINERGI_S3_LAMPUNG_ACCESS_KEY:?set it in docker/.env}"
: "${SINERGI_S3_LAMPUNG_SECRET_KEY:?set it in docker/.env}"
KP2MI_BUCKET="${SINERGI_KP2MI_BUCKET:-kp2mi-share}"
LAMPUNG_BUCKET="${SINERGI_LAMPUNG_BUCKET:-lampung-share}"
umask 077
mkdir -p /etc/sinergi
cat > /etc/sinergi/identities.json <<JSON
{
  "identities": [
    {"name": "pipeline",
     "credentials": [{"accessKey": "${SINERGI_S3_PIPELINE_ACCESS_KEY}", "secretKey": "${SINERGI_S3_PIPELINE_SECRET_KEY}"}],
     "actions": ["Admin", "Read", "List", "Write", "Tagging"]},
    {"name": "kp2mi",
     "credentials": [{"accessKey": "${SINERGI_S3_KP2MI_ACCESS_KEY}", "secretKey": "${SINERGI_S3_KP2MI_SECRET_KEY}"}],
     "actions": ["Read:${KP2MI_BUCKET}", "List:${KP2MI_BUCKET}"]},
    {"name": "lampung",
     "credentials": [{"accessKey": "${SINERGI_S3_LAMPUNG_ACCESS_KEY}", "secretKey": "${SINERGI_S3_LAMPUNG_SECRET_KEY}"}],
     "actions": ["Read:${LAMPUNG_BUCKET}", "List:${LAMPUNG_BUCKET}"]}
  ]
}
JSON
# Inside the compose network only the S3 port (8333) is meant to be used; docker-compose.yaml
# publishes nothing else (the filer, 8888, does not authenticate). Volume on 8081, not 8080.
exec weed server -dir=/data -ip=seaweedfs -ip.bind=0.0.0.0 -volume.port=8081 -volume.max=0 \
  -s3 -s3.port=8333 -s3.config=/etc/sinergi/identities.json -webdav=false
