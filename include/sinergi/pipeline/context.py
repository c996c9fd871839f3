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
        """The keyring of the policy's ``key_version``, checked against the key versions and key ids the
        parties' existing publications were made with (a changed master secret stops the run)."""
        from sinergi.secrets import master_secret, verify_key_history
        from sinergi.tokens import Keyring

        keyring = Keyring.from_master(master_secret(settings=self.settings), version=self.policy.key_version)
        verify_key_history(self.store, [p.bucket for p in self.policy.parties.values()], keyring)
        return keyring
