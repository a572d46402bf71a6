"""Provider mirror discovery and the CLI configuration handed to terraform."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline_py.errors import BadInput
from pipeline_py.terraform.mirror import ENV_VAR, Mirror, cli_config, find_mirror, providers_in

PLAT = "linux_amd64"


def unpacked(root: Path, ptype: str = "aws", version: str = "5.100.0", plat: str = PLAT) -> Path:
    d = root / "registry.terraform.io" / "hashicorp" / ptype / version / plat
    d.mkdir(parents=True)
    (d / f"terraform-provider-{ptype}_v{version}_x5").write_bytes(b"\x7fELF")
    return root


def packed(root: Path, ptype: str = "random", version: str = "3.6.0", plat: str = PLAT) -> Path:
    d = root / "registry.terraform.io" / "hashicorp" / ptype
    d.mkdir(parents=True)
    (d / f"terraform-provider-{ptype}_{version}_{plat}.zip").write_bytes(b"PK")
    return root


def test_finds_unpacked_and_packed_providers_for_this_platform_only(tmp_path: Path) -> None:
    unpacked(tmp_path)
    packed(tmp_path)
    unpacked(tmp_path, "google", plat="darwin_arm64")
    assert providers_in(tmp_path, PLAT) == ("registry.terraform.io/hashicorp/aws",
                                            "registry.terraform.io/hashicorp/random")
    assert providers_in(tmp_path, "darwin_arm64") == ("registry.terraform.io/hashicorp/google",)
    assert providers_in(tmp_path / "missing", PLAT) == ()


def test_config_wins_over_environment_wins_over_discovery(tmp_path: Path) -> None:
    a, b, c = (unpacked(tmp_path / n) for n in ("a", "b", "c"))
    env = {ENV_VAR: str(b), "HOME": str(tmp_path)}
    assert find_mirror(str(a), env, search=[str(c)], plat=PLAT).root == a.resolve()
    m = find_mirror(None, env, search=[str(c)], plat=PLAT)
    assert (m.root, m.source) == (b.resolve(), "environment")
    m = find_mirror(None, {}, search=[str(tmp_path / "nothing"), str(c)], plat=PLAT)
    assert (m.root, m.source) == (c.resolve(), "discovered")
    assert find_mirror(None, {}, search=[str(tmp_path / "nothing")], plat=PLAT) is None


def test_discovery_tries_the_plugin_cache_and_home_relative_paths(tmp_path: Path) -> None:
    cache = unpacked(tmp_path / "cache")
    assert find_mirror(None, {"TF_PLUGIN_CACHE_DIR": str(cache)}, search=[], plat=PLAT).root == cache.resolve()
    unpacked(tmp_path / "home" / ".terraform.d" / "plugins")
    m = find_mirror(None, {"HOME": str(tmp_path / "home")}, search=["~/.terraform.d/plugins"], plat=PLAT)
    assert m.root == (tmp_path / "home" / ".terraform.d" / "plugins").resolve()


def test_relative_plugin_dir_is_relative_to_the_config_and_none_disables(tmp_path: Path) -> None:
    unpacked(tmp_path / "vendor" / "providers")
    m = find_mirror("vendor/providers", {}, base_dir=tmp_path, search=[], plat=PLAT)
    assert m.source == "config" and m.root == (tmp_path / "vendor" / "providers").resolve()
    assert find_mirror("none", {ENV_VAR: str(tmp_path)}, search=[str(tmp_path)], plat=PLAT) is None
    assert find_mirror(None, {ENV_VAR: "NONE"}, search=[str(tmp_path)], plat=PLAT) is None


def test_a_named_mirror_that_is_not_one_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match=r"terraform.plugin_dir .*missing: no such directory"):
        find_mirror(str(tmp_path / "missing"), {}, plat=PLAT)
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadInput, match=rf"\${ENV_VAR} .*empty: no provider for {PLAT}"):
        find_mirror(None, {ENV_VAR: str(tmp_path / "empty")}, plat=PLAT)


def test_cli_config_uses_the_mirror_for_what_it_holds_and_the_registry_for_the_rest(tmp_path: Path) -> None:
    text = cli_config(Mirror(tmp_path, ("registry.terraform.io/hashicorp/aws",), "discovered"))
    assert f'path    = "{tmp_path}"' in text
    assert text.count('["registry.terraform.io/hashicorp/aws"]') == 2
    assert "direct {" in text and "exclude" in text
    assert "provider_installation" not in cli_config(None)
