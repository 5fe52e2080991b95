"""Where the repository's data lives. Code reads these folders; it never re-types their contents."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
IMAGES_DIR = REPO_ROOT / "images"
MODELS_DIR = REPO_ROOT / "models"
TEMPLATES_DIR = REPO_ROOT / "templates"
INVENTORY_DIR = REPO_ROOT / "inventory"
SMOKE_DIR = REPO_ROOT / "smoke"
BUILD_DIR = REPO_ROOT / "build"
MANIFEST_DIR = BUILD_DIR / "images"
BENCHMARKS_DIR = REPO_ROOT / "benchmarks"


def output_folder(path: Path | str, option: str) -> Path:
    """The folder an operator named for output (``--out``): created if missing, but only inside
    a folder that exists; nothing above it is created (a typo must not build a tree)."""
    from vllm_fleet.errors import OptionError

    folder = Path(path).expanduser().resolve()
    if not folder.parent.is_dir():
        raise OptionError(option, path, f"{folder.parent} does not exist; create it first, or "
                          "name a folder inside an existing one")
    folder.mkdir(exist_ok=True)
    return folder


def output_file(path: Path | str, option: str) -> Path:
    """A file an operator named for output (``--chart``): its folder must exist already."""
    from vllm_fleet.errors import OptionError

    file = Path(path).expanduser()
    if not file.resolve().parent.is_dir():
        raise OptionError(option, path, f"folder {file.resolve().parent} does not exist; create "
                          "it first, or name a file in an existing folder")
    return file
