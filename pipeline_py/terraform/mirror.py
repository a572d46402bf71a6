"""Where terraform gets its providers: a filesystem mirror when one is configured or found.

Build agents (and this project's machines) often cannot reach registry.terraform.io, so providers
come from a local mirror laid out as terraform expects
(``<host>/<namespace>/<type>/<version>/<os>_<arch>/terraform-provider-<type>_*`` unpacked, or
``<host>/<namespace>/<type>/terraform-provider-<type>_<version>_<os>_<arch>.zip`` packed).

The mirror is chosen in this order: ``terraform.plugin_dir`` in the config,
``$PIPELINE_PY_TF_PLUGIN_DIR``, then the first well-known directory that holds a provider for this
platform. ``none`` (either setting) turns the mirror off.

It is handed to terraform through a CLI configuration file (``TF_CLI_CONFIG_FILE``) with a
``provider_installation`` block rather than ``init -plugin-dir``: the block lists exactly the
providers the mirror holds, everything else still comes from the registry, and every later
``init`` (``-upgrade`` too) sees the same setting without anyone repeating a flag.
"""

from __future__ import annotations

import os
import platform
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pipeline_py.errors import BadInput

ENV_VAR = "PIPELINE_PY_TF_PLUGIN_DIR"
DISABLED = "none"
WELL_KNOWN: tuple[str, ...] = (
    "/opt/tf-plugins",
    "~/.terraform.d/plugins",
    "~/.local/share/terraform/plugins",
    "/usr/local/share/terraform/plugins",
    "/usr/share/terraform/plugins",
    "/opt/terraform/plugins",
)
_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "i386": "386", "i686": "386",
         "armv7l": "arm"}
_PACKED = re.compile(
    r"^terraform-provider-(?P<type>[a-z0-9-]+)_(?P<version>[^_]+)_(?P<platform>[a-z0-9]+_[a-z0-9]+)\.zip$"
)


def current_platform() -> str:
    """Terraform's name for this machine, e.g. ``linux_amd64``."""
    machine = platform.machine().lower()
    return f"{platform.system().lower()}_{_ARCH.get(machine, machine)}"


@dataclass(frozen=True)
class Mirror:
    root: Path
    providers: tuple[str, ...]  # e.g. ("registry.terraform.io/hashicorp/aws",)
    source: str  # "config", "environment" or "discovered"

    def to_dict(self) -> dict[str, object]:
        return {"path": str(self.root), "providers": list(self.providers), "source": self.source}


def providers_in(root: Path, plat: str | None = None) -> tuple[str, ...]:
    """Provider addresses the mirror at ``root`` holds for ``plat`` (sorted)."""
    plat = plat or current_platform()
    found: set[str] = set()
    if not root.is_dir():
        return ()
    for type_dir in root.glob("*/*/*"):
        if not type_dir.is_dir():
            continue
        host, namespace, ptype = type_dir.relative_to(root).parts
        address = f"{host}/{namespace}/{ptype}"
        for entry in type_dir.iterdir():
            m = _PACKED.match(entry.name)
            packed = bool(m and m["platform"] == plat and m["type"] == ptype)
            if packed or (entry.is_dir() and any((entry / plat).glob(f"terraform-provider-{ptype}*"))):
                found.add(address)
    return tuple(sorted(found))


def find_mirror(
    configured: str | None,
    environ: Mapping[str, str],
    *,
    base_dir: Path | None = None,
    search: Iterable[str] = WELL_KNOWN,
    plat: str | None = None,
) -> Mirror | None:
    """The mirror to use, or None to let terraform install from the registry."""
    plat = plat or current_platform()
    explicit, source = configured, "config"
    if not explicit:
        explicit, source = environ.get(ENV_VAR) or None, "environment"
    if explicit:
        if explicit.strip().lower() == DISABLED:
            return None
        path = Path(os.path.expanduser(explicit))
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        what = "terraform.plugin_dir" if source == "config" else f"${ENV_VAR}"
        if not path.is_dir():
            raise BadInput(f"{what} {path}: no such directory")
        providers = providers_in(path, plat)
        if not providers:
            raise BadInput(f"{what} {path}: no provider for {plat} under it (expected "
                           f"<host>/<namespace>/<type>/<version>/{plat}/terraform-provider-<type>_* or a packed .zip)")
        return Mirror(path.resolve(), providers, source)
    candidates = [environ.get("TF_PLUGIN_CACHE_DIR") or "", *search]
    home = environ.get("HOME")
    for candidate in candidates:
        if not candidate:
            continue
        if candidate.startswith("~") and home:
            candidate = home + candidate[1:]
        path = Path(os.path.expanduser(candidate))
        providers = providers_in(path, plat)
        if providers:
            return Mirror(path.resolve(), providers, "discovered")
    return None


def _hcl_list(items: Iterable[str]) -> str:
    return "[" + ", ".join(f'"{i}"' for i in items) + "]"


def cli_config(mirror: Mirror | None, *, plugin_cache_dir: str | None = None) -> str:
    """A terraform CLI configuration: the mirror for what it holds, the registry for the rest."""
    lines = ["# written by pipeline-py for one terraform run"]
    if plugin_cache_dir:
        lines.append(f'plugin_cache_dir = "{plugin_cache_dir}"')
    if mirror is not None:
        lines += [
            "provider_installation {",
            "  filesystem_mirror {",
            f'    path    = "{mirror.root}"',
            f"    include = {_hcl_list(mirror.providers)}",
            "  }",
            "  direct {",
            f"    exclude = {_hcl_list(mirror.providers)}",
            "  }",
            "}",
        ]
    return "\n".join(lines) + "\n"
