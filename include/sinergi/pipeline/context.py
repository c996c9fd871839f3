"""What every step needs besides its input reference: the object store, the local state directory
and the configuration (connections and secrets resolved by sinergi.settings).

The DAG layer builds one per task (``RunContext.from_env(lookup=...)`` with its Connection lookup);
tests build one on an in-memory store. Heavy collaborators (sources, policy, keyring) are created on
first use, so a step pays only for what it needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from sinergi.objectstore import ObjectStore
from sinergi.settings import ConnectionLookup, Settings


@dataclass
class RunContext:
    store: ObjectStore
    home: Path
    lookup: ConnectionLookup | None = None
    settings: Settings = field(default=None)  # type: ignore[assignment]  # from lookup when not given

    def __post_init__(self) -> None:
        if self.settings is None:
            self.settings = Settings(lookup=self.lookup)
        self.home = Path(self.home)

    @classmethod
    def from_env(cls, lookup: ConnectionLookup | None = None) -> RunContext:
        from sinergi.s3 import S3ObjectStore

        settings = Settings(lookup=lookup)
        return cls(store=S3ObjectStore(settings.pipeline_s3()), home=settings.home, lookup=lookup, settings=settings)

    @cached_property
    def sources(self):
        """Where the month's source files and the Disnaker database are (sinergi.extract.SourceConfig)."""
        from sinergi.extract import SourceConfig

        return SourceConfig.from_settings(self.settings)

    @cached_property
    def policy(self):
        from sinergi.policy import load_policy

        return load_policy()

    @cached_property
    def keyring(self):
        from sinergi.secrets import master_secret
        from sinergi.tokens import Keyring

        return Keyring.from_master(master_secret(settings=self.settings))
