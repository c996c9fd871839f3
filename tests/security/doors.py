"""Attacks on a running weed's side doors, shared by the embedded-store and compose-store tests:
find its listeners from its pid, try every HTTP path that serves or changes bucket data on each
non-S3 port, and run ``weed shell`` / ``filer.meta.tail`` as a client with a given config."""

from __future__ import annotations

import re
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import psutil


def listeners(pid: int) -> list[tuple[str, int]]:
    proc = psutil.Process(pid)
    out = []
    for p in (proc, *proc.children(recursive=True)):
        out += [(c.laddr.ip, c.laddr.port) for c in p.net_connections(kind="tcp") if c.status == psutil.CONN_LISTEN]
    return sorted(set(out))


def http(method: str, url: str, data: bytes | None = None, headers: dict | None = None) -> tuple[int | None, bytes]:
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError as e:
        return None, str(e).encode()


def weed_client(weed: str, ports: dict[str, int], config_dir: Path, tool: str, stdin: str = "", timeout: float = 10,
                env: dict | None = None) -> tuple[str | int, str]:
    """``weed shell`` (master + filer gRPC) or ``weed filer.meta.tail`` (filer gRPC) as a client
    configured by ``config_dir``; returns (exit code or "timeout", output)."""
    p = ports
    master, filer = f"127.0.0.1:{p['master.port']}.{p['master.port.grpc']}", f"127.0.0.1:{p['filer.port']}.{p['filer.port.grpc']}"
    args = (["shell", f"-master={master}", f"-filer={filer}"] if tool == "shell"
            else ["filer.meta.tail", f"-filer={filer}", "-pathPrefix=/buckets", "-timeAgo=24h"])
    cmd = [weed, f"-config_dir={config_dir}", *args]
    try:
        r = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout, cwd=config_dir,
                           env={"HOME": str(config_dir), **(env or {})})
        return r.returncode, r.stdout + r.stderr
    except subprocess.TimeoutExpired as e:  # without an accepted certificate it never reaches a prompt
        return "timeout", (e.stdout or b"").decode(errors="replace") + (e.stderr or b"").decode(errors="replace")


def fids(weed: str, ports: dict[str, int], operator_config: Path, bucket: str, key: str) -> list[str]:
    """The volume file ids of an object, as the legitimate operator (client certificate) reads them."""
    _, text = weed_client(weed, ports, operator_config, "shell", f"fs.meta.cat /buckets/{bucket}/{key}\n", timeout=60)
    found = re.findall(r'"fileId":\s*"([^"]+)"', text)
    assert found, f"operator shell could not read the metadata of {key}: {text[-500:]}"
    return found


FORM = b"--b0\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x\"\r\n\r\nPLANTED\r\n--b0--\r\n"
MULTIPART = {"Content-Type": "multipart/form-data; boundary=b0"}


def attempts(bucket: str, key: str, fid: str, fid_other: str, fid_victim: str) -> list[tuple[str, str, bytes | None, dict]]:
    """Every HTTP request that would list, read, write or delete bucket data on a filer, volume or master."""
    folder = key.rsplit("/", 1)[0]
    return [
        ("GET", f"/buckets/{bucket}/{key}", None, {}),                                    # filer: read
        ("GET", f"/buckets/{bucket}/{folder}/?limit=100", None, {"Accept": "application/json"}),  # list
        ("GET", "/buckets/sinergi-landing/siskop2mi/placements/2025-07/run/raw.csv", None, {}),
        ("PUT", f"/buckets/{bucket}/{folder}/planted.parquet", b"PLANTED", {}),          # filer: write
        ("DELETE", f"/buckets/{bucket}/{folder}/victim.parquet", None, {}),              # filer: delete
        ("GET", f"/?proxyChunkId={fid}", None, {}),
        ("GET", f"/{fid}", None, {}), ("HEAD", f"/{fid}", None, {}), ("GET", f"/{fid_other}", None, {}),  # volume
        ("POST", f"/{fid}", FORM, MULTIPART), ("PUT", f"/{fid}", FORM, MULTIPART),        # overwrite a chunk
        ("DELETE", f"/{fid_victim}", None, {}),
        ("GET", "/dir/assign", None, {}), ("POST", "/submit", FORM, MULTIPART),            # master: write
        ("GET", f"/dir/lookup?fileId={fid}&read=yes", None, {}),                          # master: read JWT
        ("GET", f"/col/delete?collection={bucket}", None, {}),                            # master: destroy
        ("GET", "/vol/grow?count=1", None, {}),
    ]


def attack_every_port(pid: int, s3_port: int, requests, secret: bytes) -> list[tuple]:
    """Send every request to every non-S3 port weed listens on; assert each is refused and leaks nothing."""
    tried = []
    for ip, port in listeners(pid):
        if port == s3_port:
            continue
        for method, path, body, headers in requests:
            code, answer = http(method, f"http://{ip}:{port}{path}", body, headers)
            tried.append((port, method, path, code))
            status_page = path.startswith("/?") and b"<title>SeaweedFS" in answer  # master's "/" page: topology only
            assert code is None or code >= 400 or status_page, (port, method, path, code, answer[:200])
            assert secret not in answer and b"part-0.parquet" not in answer and b"victim" not in answer, (port, path)
            assert not re.search(rb'"fid"\s*:', answer) and b"Bearer" not in answer, (port, path, answer[:200])
    return tried
