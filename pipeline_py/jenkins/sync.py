"""``jenkins sync``: a folder with the shared library configured, and a multibranch job per service.

Idempotent: each item's config.xml is fetched and compared with the rendered one; an item is
written only when something we manage differs. Jenkins re-serialises a config on save (plugin
versions as attributes, defaults for fields we never set, XML 1.1), so the comparison asks
whether every element and value of the rendered config is present in Jenkins' copy, ignoring
``plugin`` attributes, whitespace and elements Jenkins added.

An update never replaces a whole config: posting config.xml replaces the item, so a folder's
own credentials or permissions (stored in its config) would be lost. Instead the managed
elements (and, inside ``properties``, the managed properties) are swapped into Jenkins' copy.
"""

from __future__ import annotations

import difflib
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from importlib import resources
from typing import Any

import jinja2

from pipeline_py.errors import BadInput
from pipeline_py.jenkins.client import JenkinsClient
from pipeline_py.report import Reporter

_GITHUB = re.compile(r"^(?:https://github\.com/|git@github\.com:)([^/]+)/([^/]+?)(?:\.git)?/?$")
_ITEM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class Item:
    name: str
    kind: str
    xml: str


def _templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FunctionLoader(
            lambda name: (resources.files("pipeline_py") / "templates" / name).read_text(encoding="utf-8")),
        autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
    )


def source_for(repo_url: str, service: str, credentials_id: str | None) -> dict[str, Any]:
    m = _GITHUB.match(repo_url)
    if m:
        owner, repo = m.groups()
        return {"github": True, "id": f"{service}-github", "api_uri": "https://api.github.com", "owner": owner,
                "repository": repo, "url": f"https://github.com/{owner}/{repo}", "credentials_id": credentials_id}
    return {"github": False, "id": f"{service}-git", "url": repo_url, "credentials_id": credentials_id}


def desired_items(*, folder: str, service: str, repo_url: str, library_name: str, library_version: str,
                  library_repo: str | None, credentials_id: str | None, script_path: str = "Jenkinsfile",
                  ) -> list[Item]:
    """The folders (parents first, the library on the innermost) and the service's multibranch job."""
    parts = [p for p in folder.strip("/").split("/") if p]
    if not parts:
        raise BadInput("jenkins sync needs a folder (--folder or jenkins.folder in the config)")
    for name in [*parts, service]:
        if not _ITEM_NAME.match(name):
            raise BadInput(f"{name!r} is not a valid Jenkins item name (letters, digits, . _ -)")
    env = _templates()
    items = []
    for i in range(len(parts)):
        path = "/".join(parts[: i + 1])
        innermost = i == len(parts) - 1
        library = None
        if innermost and library_repo:
            library = {"name": library_name, "version": library_version, "repo_url": library_repo,
                       "credentials_id": credentials_id}
        xml = env.get_template("jenkins-folder.xml.j2").render(
            description="Services deployed with pipeline-py (managed by pipeline-py jenkins sync)"
            if innermost else "", library=library)
        items.append(Item(path, "folder", xml))
    job = env.get_template("jenkins-multibranch.xml.j2").render(
        description=f"{service}: multibranch pipeline (managed by pipeline-py jenkins sync)",
        source=source_for(repo_url, service, credentials_id), script_path=script_path,
        orphaned_days=7, orphaned_keep=20, scan_interval_ms=86_400_000)
    items.append(Item(f"{'/'.join(parts)}/{service}", "multibranch", job))
    return items


# ---- comparison -----------------------------------------------------------------------------

def _parse(xml: str, what: str) -> ET.Element:
    try:
        return ET.fromstring(xml.encode("utf-8") if xml.lstrip().startswith("<?xml") else xml)
    except ET.ParseError as exc:
        raise BadInput(f"{what}: not valid XML: {exc}") from None


def _attrs(e: ET.Element) -> dict[str, str]:
    return {k: v for k, v in e.attrib.items() if k != "plugin"}


def _text(e: ET.Element) -> str:
    return (e.text or "").strip()


def covers(actual: ET.Element, desired: ET.Element) -> bool:
    """Whether ``actual`` holds everything ``desired`` says: same tag, attributes (but ``plugin``),
    text, and for each child the same-tag child at the same position among its namesakes."""
    if actual.tag != desired.tag or _attrs(actual) != _attrs(desired):
        return False
    if len(desired) == 0:
        return _text(actual) == _text(desired)
    by_tag: dict[str, list[ET.Element]] = {}
    for child in actual:
        by_tag.setdefault(child.tag, []).append(child)
    seen: dict[str, int] = {}
    for child in desired:
        n = seen.get(child.tag, 0)
        seen[child.tag] = n + 1
        candidates = by_tag.get(child.tag, [])
        if n >= len(candidates) or not covers(candidates[n], child):
            return False
    return True


def _pretty(xml: str) -> list[str]:
    root = _parse(xml, "config")
    for e in root.iter():
        e.attrib.pop("plugin", None)
        if len(e) and not _text(e):
            e.text = None
        e.tail = None
    ET.indent(root)
    return ET.tostring(root, encoding="unicode").splitlines()


def merged(actual: str, desired: str) -> str:
    """Jenkins' config with our managed elements (and managed properties) put in place."""
    root = _parse(actual, "Jenkins config")
    want = _parse(desired, "rendered config")
    for child in want:
        if child.tag == "properties":
            props = root.find("properties")
            if props is None:
                props = ET.SubElement(root, "properties")
            for prop in child:
                _replace(props, prop)
        else:
            _replace(root, child)
    return "<?xml version='1.1' encoding='UTF-8'?>\n" + ET.tostring(root, encoding="unicode")


def _replace(parent: ET.Element, new: ET.Element) -> None:
    for i, old in enumerate(parent):
        if old.tag == new.tag:
            parent[i] = new
            return
    parent.append(new)


def diff(actual: str, desired: str, name: str) -> str:
    return "\n".join(difflib.unified_diff(_pretty(actual), _pretty(desired), f"{name} (Jenkins)",
                                          f"{name} (rendered)", lineterm="", n=2))


# ---- apply ------------------------------------------------------------------------------------

def sync(client: JenkinsClient, items: list[Item], reporter: Reporter, *, dry_run: bool) -> dict[str, Any]:
    created: list[str] = []
    updated: list[str] = []
    unchanged: list[str] = []
    diffs: dict[str, str] = {}
    for item in items:
        current = client.item_config(item.name)
        if current is None:
            reporter.step(f"{'would create' if dry_run else 'create'} {item.kind} {item.name}")
            if not dry_run:
                client.create_item(item.name, item.xml)
            created.append(item.name)
        elif covers(_parse(current, item.name), _parse(item.xml, "rendered " + item.name)):
            reporter.info(f"{item.name}: up to date")
            unchanged.append(item.name)
        else:
            new = merged(current, item.xml)
            diffs[item.name] = diff(current, new, item.name)
            reporter.step(f"{'would update' if dry_run else 'update'} {item.kind} {item.name}")
            reporter.raw(diffs[item.name])
            if not dry_run:
                client.update_item(item.name, new)
            updated.append(item.name)
    return {"created": created, "updated": updated, "unchanged": unchanged, "diffs": diffs, "dry_run": dry_run}
