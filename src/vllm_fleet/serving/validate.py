"""Validation of a serve spec against the image manifest: every flag must be one the image's
`vllm serve` accepts, every VLLM_* variable one its environment table knows. What no manifest
can vouch for is said in the plan, not silently passed."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vllm_fleet.errors import ConfigError
from vllm_fleet.serving.imagefacts import ImageFacts
from vllm_fleet.serving.layers import OWN
from vllm_fleet.serving.models import Setting

if TYPE_CHECKING:
    from vllm_fleet.serving.derive import Credential


@dataclass(frozen=True)
class Validation:
    vllm_version: str
    version_source: str
    manifest: str | None
    stood_in_for: str | None
    validated: bool
    summary: str
    unchecked_env: tuple[str, ...] = ()


def validate(
    flags: dict[str, Setting],
    env: dict[str, Setting],
    notes: dict[str, str],
    credentials: tuple[Credential, ...],
    image: ImageFacts,
    strict_env: bool,
    warnings: list[str],
    allow_unvalidated: bool = False,
) -> Validation:
    """Check flags and vLLM variables against the manifest; collect what cannot be checked.
    Without any manifest nothing vouches for the flags (a typo would reach the host), so that is
    an error unless the operator opted in (``allow_unvalidated``)."""
    manifest = image.manifest
    version = image.vllm_version
    service_env = {c.env: Setting("(secret)", OWN, c.name) for c in credentials if c.container_path}
    checked_env = {**env, **service_env}
    unchecked = tuple(n for n in checked_env if not n.startswith("VLLM_"))
    for name, note in notes.items():
        setting = env.get(name)
        if setting is not None and not name.startswith("VLLM_"):
            warnings.append(
                f"{name}={setting.value} ({setting.path}: {setting.key}): not a "
                f"vLLM variable, so no manifest can vouch for it; {note}"
            )
    if manifest is None:
        if strict_env:
            raise ConfigError(
                image.own_manifest,
                "",
                f"strict_env: no manifest of an image "
                f"with vLLM {version} to check the environment against",
            )
        if not allow_unvalidated:
            raise ConfigError(
                image.own_manifest,
                "",
                f"no image manifest for vLLM {version} to "
                "check the flags and environment against (and no other manifest "
                f"has that version); build the image (`invoke build --target "
                f"{image.target}`) or copy its manifest here, or go ahead "
                "unchecked with `invoke plan --allow-unvalidated` / pyinfra "
                "--data allow_unvalidated=true",
            )
        warnings.append(
            f"flags and environment NOT validated: no image manifest for vLLM "
            f"{version} ({image.own_manifest} is missing and no other manifest "
            f"has that version); build the cpu image (`invoke build --target cpu`)"
        )
        return Validation(
            version,
            image.version_source,
            None,
            None,
            False,
            f"not validated: no manifest for vLLM {version}",
            unchecked,
        )
    for name, setting in flags.items():
        if setting.value is not False and not manifest.accepts_flag(f"--{name}"):
            close = difflib.get_close_matches(f"--{name}", manifest.serve_flags, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                setting.path,
                setting.key,
                f"vLLM {version} does not accept "
                f"--{name} (checked against {image.manifest_path}){hint}",
            )
    for name, setting in checked_env.items():
        if name.startswith("VLLM_") and not manifest.knows_env(name):
            _unknown_env(name, setting, notes.get(name), image, strict_env, warnings)
    stood_in = image.own_manifest if image.stood_in else None
    summary = f"validated against {image.manifest_path} (vLLM {version})"
    if stood_in:
        summary += (
            f", standing in for {stood_in}, which is missing (same vLLM version: "
            "same serve flags and environment table)"
        )
    return Validation(
        version, image.version_source, image.manifest_path, stood_in, True, summary, unchecked
    )


def _unknown_env(
    name: str,
    setting: Setting,
    note: str | None,
    image: ImageFacts,
    strict_env: bool,
    warnings: list[str],
) -> None:
    problem = (
        f"{name}={setting.value} is not read by vLLM {image.vllm_version} (not in the "
        f"environment table of {image.manifest_path})"
    )
    if note:
        problem += f"; {note}"
    if strict_env:
        raise ConfigError(setting.path, setting.key, problem + " (strict_env)")
    warnings.append(
        problem.replace(" is not read", f" ({setting.path}: {setting.key}) is not read", 1)
    )
