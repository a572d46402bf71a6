from __future__ import annotations

from pathlib import Path

from pipeline_py.local import ecr_mirror, registry


def test_registry_config_binds_loopback_requires_htpasswd_and_notifies_the_local_stack(tmp_path: Path) -> None:
    cfg = registry.registry_config(port=5123, data_dir=tmp_path / "data", htpasswd=tmp_path / "htpasswd",
                                   moto_url="http://127.0.0.1:4999/")
    assert cfg["http"]["addr"] == "127.0.0.1:5123" and cfg["http"]["host"] == "http://127.0.0.1:5123"
    assert cfg["auth"]["htpasswd"]["path"] == str(tmp_path / "htpasswd")
    (endpoint,) = cfg["notifications"]["endpoints"]
    assert endpoint["url"] == "http://127.0.0.1:4999/_pipeline_py/registry-events"
    assert endpoint["ignore"] == {"mediatypes": ["application/octet-stream"], "actions": ["pull"]}


def test_environment_is_the_registry_override() -> None:
    assert registry.environment({"pid": 1, "url": "http://127.0.0.1:5123", "host": "127.0.0.1:5123"}) == \
        {"PIPELINE_PY_REGISTRY_OVERRIDE": "127.0.0.1:5123"}
    assert registry.environment({"pid": 1, "url": "http://127.0.0.1:5124"}) == \
        {"PIPELINE_PY_REGISTRY_OVERRIDE": "127.0.0.1:5124"}


def test_htpasswd_file_is_bcrypt_and_private(tmp_path: Path) -> None:
    path = tmp_path / "htpasswd"
    registry.write_htpasswd(path, "AWS", "123456789012-auth-token")
    user, _, digest = path.read_text().strip().partition(":")
    assert user == "AWS" and digest.startswith("$2y$") and "auth-token" not in digest
    assert path.stat().st_mode & 0o777 == 0o600


def test_mirror_ignores_what_is_not_a_manifest_push_and_never_raises() -> None:
    assert ecr_mirror.handle({}, "http://unused") == {"mirrored": 0, "unchanged": 0, "deleted": 0, "ignored": 0,
                                                     "errors": []}
    out = ecr_mirror.handle({"events": [
        {"action": "pull", "target": {"mediaType": "application/vnd.docker.distribution.manifest.v2+json"}},
        {"action": "push", "target": {"mediaType": "application/octet-stream", "repository": "r", "digest": "d"}},
        {"action": "push", "target": {"mediaType": "application/vnd.oci.image.manifest.v1+json"}},
        "garbage",
    ]}, "http://unused")
    assert out["ignored"] == 4 and out["errors"] == []
    assert ecr_mirror.handle({"events": "not a list"}, "http://unused")["ignored"] == 0  # type: ignore[dict-item]
