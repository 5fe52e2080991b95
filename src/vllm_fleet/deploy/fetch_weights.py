"""Download one pinned model revision into a Hugging Face cache and record it as complete.

Copied to the host and run there by the deploy with the runtime's own Python (the serving image
or the venv), so it imports only the standard library and huggingface_hub:

    python3 fetch_weights.py REPO_ID REVISION

HF_HOME names the cache. A run cut off is continued by the next one file by file: the files it
finished are kept, and the file it was writing is fetched again from its start. huggingface_hub
2.4 writes each download to a temporary file unique to its process (huggingface/huggingface_hub
PR #4228), so no later run resumes it; the next run removes these leftovers first, or each cut
would leave up to one shard (~10 GB for Kimi-K2-Thinking) on the data disk.

Only when every file of the revision, as the Hub lists it (``list_repo_tree``), is in the
snapshot at the listed size, and every shard ``model.safetensors.index.json`` names is one of
them, does it write ``$HF_HOME/vllm-fleet-complete/models--ORG--NAME/<commit>`` ("<size> <path>"
per line), which the deploy's HubSnapshot fact checks. Anything else exits non-zero with what is
wrong.
"""

from __future__ import annotations

import json
import os
import sys

import huggingface_hub as hub
from huggingface_hub.hf_api import RepoFile

COMPLETE_DIR = "vllm-fleet-complete"  # the same name as vllm_fleet.deploy.facts.COMPLETE_DIR
INDEX = "model.safetensors.index.json"


def main(repo_id: str, revision: str) -> None:
    listed = {
        item.path: item.size
        for item in hub.HfApi().list_repo_tree(repo_id, revision=revision, recursive=True)
        if isinstance(item, RepoFile)
    }
    remove_partial_files(repo_id)
    snapshot = hub.snapshot_download(repo_id, revision=revision)
    problems = check(snapshot, listed)
    if problems:
        sys.exit(f"{repo_id}@{revision} is incomplete in {snapshot}: " + "; ".join(problems))
    record(repo_id, os.path.basename(snapshot), listed)
    print(snapshot)


def remove_partial_files(repo_id: str) -> None:
    """Delete what cut-off downloads left in the repository's blobs (``*.incomplete``). Only
    the deploy downloads into this cache, and never twice at once on a host."""
    folder = os.path.join(hub.constants.HF_HUB_CACHE, f"models--{repo_id.replace('/', '--')}")
    blobs = os.path.join(folder, "blobs")
    for name in os.listdir(blobs) if os.path.isdir(blobs) else []:
        if name.endswith(".incomplete"):
            os.remove(os.path.join(blobs, name))


def check(snapshot: str, listed: dict[str, int]) -> list[str]:
    problems = []
    for name, size in sorted(listed.items()):
        path = os.path.join(snapshot, name)
        if not os.path.isfile(path):
            problems.append(f"{name} is missing")
        elif os.path.getsize(path) != size:
            problems.append(f"{name} has {os.path.getsize(path)} of {size} bytes")
    index = os.path.join(snapshot, INDEX)
    if os.path.isfile(index):
        with open(index) as handle:
            shards = set(json.load(handle).get("weight_map", {}).values())
        problems += [
            f"{shard}, named by {INDEX}, is not in the revision"
            for shard in sorted(shards - set(listed))
        ]
    return problems


def record(repo_id: str, commit: str, listed: dict[str, int]) -> None:
    """Write the record atomically: a cut-off write must not look like a complete one."""
    folder = os.path.join(
        os.environ.get("HF_HOME", os.path.expanduser("~/.cache/huggingface")),
        COMPLETE_DIR,
        f"models--{repo_id.replace('/', '--')}",
    )
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, commit)
    with open(path + ".tmp", "w") as handle:
        handle.writelines(f"{size} {name}\n" for name, size in sorted(listed.items()))
    os.replace(path + ".tmp", path)


if __name__ == "__main__":
    main(*sys.argv[1:3])
