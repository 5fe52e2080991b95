"""Read pyinfra inventories (inventory/*.py + group_data/) without connecting to any host.

The files are read by the rules of pyinfra's CLI loader (pyinfra_cli/inventory.py, 3.10:
module-level lists of hosts or ``(hosts, data)`` tuples are groups, the file's name is a group,
``group_data/<group>.py`` module-level names are that group's data, ``all`` applies to every
host) and handed to ``pyinfra.api.Inventory``, so host data merges exactly as in a deploy
(host > groups > all). The CLI module itself is not imported: importing it gevent-patches the
whole process. Nothing connects: hosts are only named.

On top of pyinfra's data this module records, for every key, the file that set it, so a bad
value is reported as ``inventory/group_data/amd_mi300x.py: profile: ...``.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vllm_fleet.errors import ConfigError, FleetError, UnknownNameError
from vllm_fleet.serving.models import display_path


class GroupConflictError(ConfigError):
    """Two groups of one host set a key differently (pyinfra would pick one silently)."""


@dataclass(frozen=True)
class HostData:
    """One host's merged data and, per key, the file that set it."""

    name: str
    data: Mapping[str, Any]
    sources: Mapping[str, str] = field(default_factory=dict)
    default_source: str = "host data"
    groups: tuple[str, ...] = ()  # the inventory groups the host is in

    def source(self, key: str) -> str:
        """The file that set ``key`` (or, for a missing key, where it should be set)."""
        return self.sources.get(key, self.default_source)

    @classmethod
    def from_mapping(
        cls, name: str, data: Mapping[str, Any], source: str = "host data"
    ) -> HostData:
        """Host data without per-key files, e.g. a pyinfra ``host.data.dict()`` in a deploy."""
        return cls(name=name, data=dict(data), sources={}, default_source=source)


def load_inventory(path: Path | str, group_data_dirs: Sequence[Path | str] = ()) -> list[HostData]:
    """Every host of the inventory file ``path``, in file order, with its data's provenance.

    Group data is read from ``group_data/`` beside the inventory, then from ``group_data_dirs``
    (pyinfra's ``--group-data``), later folders winning, as pyinfra's CLI does."""
    inventory_path = Path(path)
    shown = display_path(inventory_path)
    if not inventory_path.is_file():
        raise ConfigError(shown, "", "inventory file not found")
    folders = [inventory_path.parent / "group_data", *map(Path, group_data_dirs)]
    inventory = _pyinfra_inventory(inventory_path, shown, folders)
    group_files = _group_data_keys(folders)
    if not len(inventory):
        raise ConfigError(
            shown,
            "",
            "no hosts: define a group as a module-level list of host "
            'names, e.g. gpu = ["gpu-01.example"] (pyinfra\'s inventory format)',
        )
    for host in inventory:
        _check_group_conflicts(host, shown, group_files)
    return [
        HostData(
            name=host.name,
            data=host.data.dict(),
            sources=_sources(host, shown, group_files),
            default_source=_missing_key_home(group_files, shown),
            groups=tuple(host.groups),
        )
        for host in inventory
    ]


def inventory_warnings(path: Path | str, group_data_dirs: Sequence[Path | str] = ()) -> list[str]:
    """What pyinfra would silently drop: group_data files of groups no host is in, and
    module-level names that look like host groups but that pyinfra ignores."""
    inventory_path = Path(path)
    shown = display_path(inventory_path)
    namespace = _module_names(inventory_path, shown)
    groups = {name for name, value in namespace.items() if _is_group(name, value)}
    groups |= {"all", inventory_path.stem}
    folders = [inventory_path.parent / "group_data", *map(Path, group_data_dirs)]
    # group_data/ beside the inventory is shared by the inventories in that folder (prod.py and
    # sandbox.py here): a group one of them defines is not dropped.
    groups |= _sibling_groups(inventory_path)
    warnings = [
        f"{display_path(p)}: no host of {shown} is in group {p.stem!r}, so this data "
        "applies to no host here"
        for p in _group_files(folders)
        if p.stem not in groups
    ]
    for name, value in namespace.items():
        if _looks_like_hosts(name, value) and name not in groups:
            warnings.append(
                f"{shown}: {name}: pyinfra ignores it as a group (a group is a list "
                "of host names or (name, data) tuples, optionally as (hosts, data)); "
                f"its hosts are not deployed"
            )
    return warnings


def _sibling_groups(inventory_path: Path) -> set[str]:
    """Group names the other inventory files of the folder define (their names and top-level
    assignments, read without running them)."""
    names: set[str] = set()
    for sibling in inventory_path.parent.glob("*.py"):
        if sibling == inventory_path:
            continue
        names.add(sibling.stem)
        try:
            tree = ast.parse(sibling.read_text(), filename=str(sibling))
        except (OSError, SyntaxError, ValueError):
            continue
        names.update(
            t.id
            for node in tree.body
            if isinstance(node, ast.Assign)
            for t in node.targets
            if isinstance(t, ast.Name)
        )
    return names


def _looks_like_hosts(name: str, value: Any) -> bool:
    if name.startswith("_") or not isinstance(value, list | tuple | set | frozenset):
        return False
    return bool(value) and any(isinstance(item, str | tuple) for item in value)


def _check_group_conflicts(host: Any, inventory_file: str, group_files: GroupFiles) -> None:
    """A host in two groups that set one key differently gets whichever pyinfra merges last:
    an accident of group order, so it is an error unless the host's own data settles it."""
    inventory = host.inventory
    own = inventory.get_host_data(host.name)
    seen: dict[str, tuple[str, Any]] = {}
    for group in host.groups:
        if group == "all":
            continue
        for key, value in inventory.get_group_data(group).items():
            if key in own:
                continue
            if key in seen and seen[key][1] != value:
                first, first_value = seen[key]
                where = _in_group_file(group, inventory_file, group_files)(key)
                raise GroupConflictError(
                    where,
                    key,
                    f"host {host.name} is in groups {first!r} and "
                    f"{group!r}, which set it differently ({first_value!r} and "
                    f"{value!r}); pyinfra would silently use {group!r}'s: set it "
                    "in one group, or in the host's own data",
                )
            seen.setdefault(key, (group, value))


def pyinfra_inventory(path: Path | str, group_data_dirs: Sequence[Path | str] = ()) -> Any:
    """The inventory file as a ``pyinfra.api.Inventory`` (for code that connects through
    pyinfra's API, e.g. `invoke status`), loaded by the same rules as ``load_inventory``."""
    inventory_path = Path(path)
    if not inventory_path.is_file():
        raise ConfigError(display_path(inventory_path), "", "inventory file not found")
    folders = [inventory_path.parent / "group_data", *map(Path, group_data_dirs)]
    return _pyinfra_inventory(inventory_path, display_path(inventory_path), folders)


def select_host(hosts: list[HostData], name: str, inventory: str) -> HostData:
    for host in hosts:
        if host.name == name:
            return host
    raise UnknownNameError(inventory, "", "host", name, [h.name for h in hosts])


def _pyinfra_inventory(path: Path, shown: str, group_folders: list[Path]) -> Any:
    from pyinfra.api.inventory import Inventory

    groups = {
        name: value if isinstance(value, tuple) else (value, {})
        for name, value in _module_names(path, shown).items()
        if _is_group(name, value)
    }
    all_hosts, all_data = groups.pop("all", (None, {}))
    if all_hosts is None:
        all_hosts = []
        for hosts, _ in groups.values():
            for host in hosts:
                name = host[0] if isinstance(host, tuple) else host
                if name not in all_hosts:
                    all_hosts.append(name)
    groups.setdefault(path.stem, (list(all_hosts), {}))
    all_data = dict(all_data)
    for group_path in _group_files(group_folders):
        data = _group_data(group_path)
        if group_path.stem == "all":
            all_data.update(data)
        else:
            hosts, group_data = groups.get(group_path.stem, ([], {}))
            groups[group_path.stem] = (hosts, {**group_data, **data})
    try:
        return Inventory((all_hosts, all_data), **groups)
    except Exception as err:  # pyinfra rejects unknown @connectors and the like
        raise ConfigError(shown, "", f"not a valid pyinfra inventory ({err})") from None


def _module_names(path: Path, shown: str) -> dict[str, Any]:
    """Execute a pyinfra data file (plain Python) and return its module-level names."""
    namespace: dict[str, Any] = {"__file__": str(path)}
    try:
        exec(compile(path.read_text(), str(path), "exec"), namespace)
    except FleetError as err:  # the file's own one-line answer (e.g. no sandbox host is up)
        raise ConfigError(shown, "", str(err)) from None
    except Exception as err:
        raise ConfigError(shown, "", f"cannot load ({type(err).__name__}: {err})") from None
    return namespace


def _is_group(name: str, value: Any) -> bool:
    """pyinfra's rule: a public list of hosts, or a (hosts, data) tuple; hosts are str/tuple."""
    if name.startswith("_"):
        return False
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], dict):
        value = value[0]
    return isinstance(value, list) and all(isinstance(h, str | tuple) for h in value)


def _group_data(path: Path) -> dict[str, Any]:
    """A group_data file's data: its public names, minus imports (as pyinfra does)."""
    namespace = _module_names(path, display_path(path))
    if "__all__" in namespace:
        keys = set(namespace["__all__"])
    else:
        keys = set(namespace) - _imported_names(path)
    return {k: v for k, v in namespace.items() if k in keys and not k.startswith("__")}


def _imported_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.parse(path.read_text(), filename=str(path)).body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def _sources(host: Any, inventory_file: str, group_files: GroupFiles) -> dict[str, str]:
    """Per key, the file pyinfra took it from: the same waterfall as ``host.data``."""
    inventory = host.inventory
    sources: dict[str, str] = {}

    def claim(keys: Any, source_of: Any) -> None:
        for key in keys:
            sources.setdefault(key, source_of(key))

    claim(inventory.get_override_data(), lambda _key: "--data override")
    claim(inventory.get_host_data(host.name), lambda _key: inventory_file)
    # Later groups win in pyinfra (dict.update in order), so claim them last-first.
    for group in reversed(host.groups):
        claim(inventory.get_group_data(group), _in_group_file(group, inventory_file, group_files))
    claim(inventory.get_data(), _in_group_file("all", inventory_file, group_files))
    return sources


GroupFiles = dict[str, list[tuple[str, set[str]]]]


def _in_group_file(group: str, inventory_file: str, group_files: GroupFiles):
    """The group's file that set a key: the last folder's that assigns it (its value wins)."""

    def source(key: str) -> str:
        setting = [shown for shown, keys in group_files.get(group, []) if key in keys]
        return setting[-1] if setting else inventory_file

    return source


def _group_files(folders: list[Path]) -> list[Path]:
    return [path for folder in folders if folder.is_dir() for path in sorted(folder.glob("*.py"))]


def _group_data_keys(folders: list[Path]) -> GroupFiles:
    """For each group: its group_data/<group>.py files in load order, with the names each
    assigns at top level."""
    out: GroupFiles = {}
    for path in _group_files(folders):
        tree = ast.parse(path.read_text(), filename=str(path))
        names: set[str] = set()
        for node in tree.body:
            targets = (
                node.targets
                if isinstance(node, ast.Assign)
                else ([node.target] if isinstance(node, ast.AnnAssign) else [])
            )
            names.update(t.id for t in targets if isinstance(t, ast.Name))
        out.setdefault(path.stem, []).append((display_path(path), names))
    return out


def _missing_key_home(group_files: GroupFiles, inventory_file: str) -> str:
    """Where a missing key would normally be set: group_data/all.py if there is one."""
    return group_files["all"][-1][0] if "all" in group_files else inventory_file
