"""Helpers shared by the test modules (``pythonpath = ["tests"]`` in pyproject.toml)."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

from sinergi.objectstore import ObjectInfo, ObjectNotFound, PreconditionFailed


def db_reachable(url: str) -> bool:
    """True if a database server answers at ``url`` (any failure means "not here")."""
    try:
        eng = sa.create_engine(url)
        with eng.connect():
            pass
        eng.dispose()
        return True
    except Exception:  # noqa: BLE001
        return False


class DirStore:
    """ObjectStore protocol over a directory (bucket/key -> file; metadata in a JSON side file)."""

    endpoint = "file://"

    def __init__(self, root: Path):
        self.root = root
        self.puts: list[str] = []

    def _p(self, bucket: str, key: str) -> Path:
        return self.root / bucket / key

    def put_bytes(self, bucket, key, data, *, content_type="application/octet-stream", if_none_match=False,
                  if_match=None, metadata=None) -> str:
        p = self._p(bucket, key)
        if if_none_match and p.exists():
            raise PreconditionFailed(f"{bucket}/{key} exists")
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        p.with_name(p.name + ".__meta__").write_text(json.dumps(metadata or {}))
        self.puts.append(key)
        return hashlib.md5(data).hexdigest()

    def put_file(self, bucket, key, path, *, content_type="application/octet-stream", metadata=None) -> str:
        p = self._p(bucket, key)
        p.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, p)  # streamed, like a multipart upload
        p.with_name(p.name + ".__meta__").write_text(json.dumps(metadata or {}))
        self.puts.append(key)
        return "copied"

    def get_bytes(self, bucket, key) -> bytes:
        p = self._p(bucket, key)
        if not p.is_file():
            raise ObjectNotFound(f"{bucket}/{key}")
        return p.read_bytes()

    def get_file(self, bucket, key, path) -> None:
        Path(path).write_bytes(self.get_bytes(bucket, key))

    def head(self, bucket, key) -> ObjectInfo | None:
        p = self._p(bucket, key)
        if not key or not p.is_file():
            return None
        return ObjectInfo(key, p.stat().st_size, hashlib.md5(p.read_bytes()).hexdigest())

    def metadata(self, bucket, key) -> dict[str, str]:
        return json.loads(self._p(bucket, key).with_name(Path(key).name + ".__meta__").read_text())

    def list(self, bucket, prefix="") -> Iterator[ObjectInfo]:
        base = self.root / bucket
        for p in sorted(base.rglob("*")):
            key = p.relative_to(base).as_posix()
            if p.is_file() and not key.endswith(".__meta__") and key.startswith(prefix):
                yield self.head(bucket, key)

    def delete(self, bucket, key) -> None:
        self._p(bucket, key).unlink(missing_ok=True)

    def ensure_bucket(self, bucket) -> None:
        (self.root / bucket).mkdir(parents=True, exist_ok=True)
