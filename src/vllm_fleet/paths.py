"""Where the repository's data lives. Code reads these folders; it never re-types their contents."""

from __future__ import annotations

from pathlib import Path

# A folder is a vllm-fleet checkout when it holds these (the task list and the build matrix).
CHECKOUT_MARKERS = ("tasks.py", "images/matrix.yaml")


def is_checkout(folder: Path) -> bool:
    return all((folder / marker).is_file() for marker in CHECKOUT_MARKERS)


def find_repo_root(package_file: Path, cwd: Path) -> Path:
    """The checkout whose data (images/, models/, inventory/, ...) the code reads.

    An editable install (``pip install -e .``) runs the package from the checkout's src/, so
    the checkout is two folders up. A regular install (``pip install .``) copies only the
    package into site-packages; the checkout is then the folder ``invoke`` or ``pyinfra`` runs
    in (tasks.py and deploy/ are read from there anyway), or the nearest one above it."""
    beside_source = package_file.resolve().parents[2]
    if is_checkout(beside_source):
        return beside_source
    for folder in (cwd, *cwd.parents):
        if is_checkout(folder):
            return folder
    return cwd  # errors then name the missing file under the folder it was looked for in


REPO_ROOT = find_repo_root(Path(__file__), Path.cwd().resolve())
IMAGES_DIR = REPO_ROOT / "images"
MODELS_DIR = REPO_ROOT / "models"
TEMPLATES_DIR = REPO_ROOT / "templates"
INVENTORY_DIR = REPO_ROOT / "inventory"
SMOKE_DIR = REPO_ROOT / "smoke"
BUILD_DIR = REPO_ROOT / "build"
MANIFEST_DIR = BUILD_DIR / "images"
BENCHMARKS_DIR = REPO_ROOT / "benchmarks"
MONITORING_DIR = REPO_ROOT / "monitoring"


def output_folder(path: Path | str, option: str) -> Path:
    """The folder an operator named for output (``--out``): created if missing, but only inside
    a folder that exists; nothing above it is created (a typo must not build a tree)."""
    from vllm_fleet.errors import OptionError

    folder = Path(path).expanduser().resolve()
    if not folder.parent.is_dir():
        raise OptionError(
            option,
            path,
            f"{folder.parent} does not exist; create it first, or "
            "name a folder inside an existing one",
        )
    folder.mkdir(exist_ok=True)
    return folder


def output_file(path: Path | str, option: str) -> Path:
    """A file an operator named for output (``--chart``): its folder must exist already."""
    from vllm_fleet.errors import OptionError

    file = Path(path).expanduser()
    if not file.resolve().parent.is_dir():
        raise OptionError(
            option,
            path,
            f"folder {file.resolve().parent} does not exist; create "
            "it first, or name a file in an existing folder",
        )
    return file
