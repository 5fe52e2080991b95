"""The host's record of what it runs: which differences restart a server (image, serve spec,
model revision) and which do not (where a setting came from, when it was recorded), and how a
deploy and a rollback move the versions."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from vllm_fleet.errors import FleetError
from vllm_fleet.paths import INVENTORY_DIR
from vllm_fleet.rollout.state import StateRecord, Version, desired_version, parse_record, spec_hash
from vllm_fleet.serving.inventory import load_inventory
from vllm_fleet.serving.plan import Planner
from vllm_fleet.serving.spec import ServeSpec

OLD = Version("registry/vllm@sha256:" + "a" * 64, "1" * 64, "rev-1", "2026-12-01T10:00:00+00:00")
NEW = Version("registry/vllm@sha256:" + "b" * 64, "1" * 64, "rev-1", "2026-12-02T10:00:00+00:00")


@pytest.fixture(scope="module")
def spec() -> ServeSpec:
    host = load_inventory(INVENTORY_DIR / "prod.py")[0]
    return Planner(allow_unvalidated=True).spec(host)


def test_a_new_image_alone_is_a_restart_and_says_so() -> None:
    assert OLD.differences(NEW) == [f"image {OLD.image} -> {NEW.image}"]
    assert not OLD.same_as(NEW)


def test_the_time_of_a_record_is_no_difference() -> None:
    assert OLD.same_as(replace(OLD, recorded_at="2027-01-01T00:00:00+00:00"))


def test_a_deploy_moves_current_to_previous_and_a_rollback_swaps_them() -> None:
    record = StateRecord().after_deploy(OLD).after_deploy(NEW)
    assert record == StateRecord(current=NEW, previous=OLD)
    assert record.after_deploy(replace(NEW, recorded_at="later")) is record  # nothing new
    assert record.after_rollback() == StateRecord(current=OLD, previous=NEW)


def test_the_record_reads_back_from_its_json() -> None:
    record = StateRecord(current=NEW, previous=OLD)
    assert parse_record(record.to_json()) == record
    assert parse_record("") == StateRecord()


def test_a_file_that_is_not_a_record_names_itself() -> None:
    with pytest.raises(FleetError, match=r"^gpu-01:/var/lib/x/state.json: not a vllm-fleet"):
        parse_record(json.dumps({"current": {"colour": "blue"}}), "gpu-01:/var/lib/x/state.json")


def test_a_changed_flag_changes_the_spec_hash(spec: ServeSpec) -> None:
    changed = replace(spec, argv=(*spec.argv, "--max-num-seqs", "8"))
    assert spec_hash(changed) != spec_hash(spec)
    assert desired_version(spec).differences(desired_version(changed))[0].startswith("serve spec")


def test_provenance_and_warnings_are_not_a_restart(spec: ServeSpec) -> None:
    moved = replace(spec, sources=(("VLLM_X", "elsewhere.py"),), warnings=("a new warning",))
    assert spec_hash(moved) == spec_hash(spec)


def test_a_new_model_revision_is_a_restart(spec: ServeSpec) -> None:
    revised = replace(spec, weights=replace(spec.weights, revision="f" * 40))
    reasons = desired_version(spec).differences(desired_version(revised))
    assert f"model revision {spec.weights.revision} -> {'f' * 40}" in reasons
