"""What a serving host runs and ran before, as the host itself records it.

The deploy writes ``<state_dir>/state.json`` once a new version passed its ready gate, and keeps
the two units beside it (``units/current.service``, ``units/previous.service``). A rollback reads
only these files, so it needs nothing from the controller's memory or a checkout of the day.
The record holds no secret (image reference, hashes, revision, time) and is world-readable.

Standard library only: the deploy reads it through a pyinfra fact, the rollout controller over
``pyinfra fact``, and both parse it here.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from vllm_fleet.errors import FleetError
from vllm_fleet.serving.spec import ServeSpec

RECORD_FILE = "state.json"
UNITS_DIR = "units"

# What of a ServeSpec reaches the running server, apart from the image and the model revision
# (recorded on their own). Provenance (sources, warnings, which manifest validated it) and where
# the controller reads a secret from are left out: they change no byte the server sees.
SERVED_FIELDS = ("runtime", "port", "argv", "env", "container", "volumes", "host_dirs", "unit")
CREDENTIAL_FIELDS = ("name", "env", "host_path", "container_path")


@dataclass(frozen=True)
class StatePaths:
    """The record's files under a host's ``state_dir``."""

    state_dir: str

    @property
    def record(self) -> str:
        return f"{self.state_dir}/{RECORD_FILE}"

    @property
    def units_dir(self) -> str:
        return f"{self.state_dir}/{UNITS_DIR}"

    @property
    def current_unit(self) -> str:
        return f"{self.units_dir}/current.service"

    @property
    def previous_unit(self) -> str:
        return f"{self.units_dir}/previous.service"


@dataclass(frozen=True)
class Version:
    """One version of what a host serves."""

    image: str | None  # the reference the unit runs (a digest when pulled by digest)
    spec_hash: str  # sha256 of the served spec (SERVED_FIELDS)
    model_revision: str
    recorded_at: str = ""  # UTC, ISO 8601; not part of what makes two versions the same

    def differences(self, new: Version) -> list[str]:
        """Why moving from this version to ``new`` restarts the server (empty: it does not)."""
        reasons = []
        if self.image != new.image:
            reasons.append(f"image {self.image} -> {new.image}")
        if self.spec_hash != new.spec_hash:
            reasons.append(f"serve spec {self.spec_hash[:12]} -> {new.spec_hash[:12]}")
        if self.model_revision != new.model_revision:
            reasons.append(f"model revision {self.model_revision} -> {new.model_revision}")
        return reasons

    def same_as(self, other: Version | None) -> bool:
        return other is not None and not self.differences(other)

    def describe(self) -> str:
        image = self.image or "venv"
        return f"{image} (spec {self.spec_hash[:12]}, revision {self.model_revision})"


@dataclass(frozen=True)
class StateRecord:
    """A host's record: the version it runs and the one before it (None: nothing recorded)."""

    current: Version | None = None
    previous: Version | None = None

    def after_deploy(self, version: Version) -> StateRecord:
        """The record once ``version`` passed its gate: the old current becomes previous."""
        if version.same_as(self.current):
            return self
        return StateRecord(current=version, previous=self.current)

    def after_rollback(self) -> StateRecord:
        """The record once the previous version serves again: the two swap."""
        return StateRecord(current=self.previous, previous=self.current)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"


def parse_record(text: str, where: str = RECORD_FILE) -> StateRecord:
    """A record from state.json's text; empty text is a host with no record yet."""
    if not text.strip():
        return StateRecord()
    try:
        data = json.loads(text)
        return StateRecord(
            current=_version(data.get("current")), previous=_version(data.get("previous"))
        )
    except (ValueError, TypeError, AttributeError) as err:
        raise FleetError(f"{where}: not a vllm-fleet state record ({err})") from None


def _version(data: dict[str, Any] | None) -> Version | None:
    return None if data is None else Version(**data)


def spec_hash(spec: ServeSpec) -> str:
    data = spec.to_dict()
    served = {name: data[name] for name in SERVED_FIELDS}
    served["credentials"] = [
        {name: c[name] for name in CREDENTIAL_FIELDS} for c in data["credentials"]
    ]
    return hashlib.sha256(json.dumps(served, sort_keys=True).encode()).hexdigest()


def desired_version(spec: ServeSpec, now: datetime | None = None) -> Version:
    """The version a deploy of ``spec`` runs."""
    when = (now or datetime.now(UTC)).replace(microsecond=0).isoformat()
    return Version(spec.image, spec_hash(spec), spec.weights.revision, when)
