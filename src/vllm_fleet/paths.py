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
MONITORING_DIR = REPO_ROOT / "monitoring"
