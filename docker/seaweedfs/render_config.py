#!/usr/bin/env python3
"""Render the compose stack's SeaweedFS configuration into a folder (the ``seaweedfs-conf`` volume),
with the same code as the embedded store (sinergi.local.seaweed): a fresh CA and certificates for
gRPC mutual TLS, fresh JWT keys in security.toml, and the S3 identities — the pipeline with
Read/Write/List/Tagging on the Sinergi buckets only, each party Read/List on its own bucket, and a
provisioner (Admin:<bucket>, a new key each time) that only airflow-init uses to create the buckets.

    python docker/seaweedfs/render_config.py <folder> [--cert-dir <path of <folder>/pki in the weed container>]

Keys come from the environment (docker/.env): SINERGI_S3_<PARTY>_ACCESS_KEY / _SECRET_KEY per party
of the sharing policy, and SINERGI_S3_PIPELINE_*. Every file is 0600, every folder 0700.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from pathlib import Path

from sinergi.layout import OWNER_BUCKETS
from sinergi.local import seaweed
from sinergi.policy import load_policy


def _pair(env, who: str) -> tuple[str, str]:
    access, secret = env.get(f"SINERGI_S3_{who.upper()}_ACCESS_KEY"), env.get(f"SINERGI_S3_{who.upper()}_SECRET_KEY")
    if not access or not secret:
        raise SystemExit(f"render_config: SINERGI_S3_{who.upper()}_ACCESS_KEY and _SECRET_KEY must be set")
    return access, secret


def render(folder: Path, env=os.environ, cert_dir: str | None = None) -> dict:
    parties = {name: p.bucket for name, p in load_policy().parties.items()}
    buckets = [*OWNER_BUCKETS, *parties.values()]
    seaweed.write_security_config(folder, hosts=("localhost", "127.0.0.1"), cert_dir=cert_dir)
    provisioner = ("SNGPROV" + secrets.token_hex(8).upper(), secrets.token_urlsafe(30))
    ids = seaweed.identities(_pair(env, "pipeline"), {p: (b, _pair(env, p)) for p, b in parties.items()}, buckets,
                             provisioner)
    seaweed.write_0600(folder / "identities.json", json.dumps(ids, indent=1))
    seaweed.write_0600(folder / "provisioner.env",
                        f"SINERGI_PROVISIONER_ACCESS_KEY={provisioner[0]}\nSINERGI_PROVISIONER_SECRET_KEY={provisioner[1]}\n"
                        f"SINERGI_BUCKETS={','.join(buckets)}\n")
    return ids


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path)
    ap.add_argument("--cert-dir", default=None)
    args = ap.parse_args(argv)
    render(args.folder, cert_dir=args.cert_dir)
    print(f"render_config: SeaweedFS security config and identities written to {args.folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
