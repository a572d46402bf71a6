"""moto internals the ECR scan module (pipeline_py.local.moto_ext.ecr) reads.

Fail loudly when moto changes: every internal is exercised on a fresh in-memory backend (no server).
"""

from __future__ import annotations

import inspect
import json
from datetime import datetime, timezone

import pytest

from pipeline_py.local import moto_ext
from pipeline_py.local.moto_ext import ecr as moto_ecr
from tests.unit.moto_pins._helpers import original

ACCOUNT, REGION = "000000000046", "us-east-1"


def test_ecr_repository_and_image_shapes() -> None:
    from moto.ecr.exceptions import ImageNotFoundException, RepositoryNotFoundException
    from moto.ecr.models import ECRBackend

    backend = ECRBackend(REGION, ACCOUNT)
    backend.create_repository("svc", None, None, {"scanOnPush": True}, None, None, None)
    repo = backend._get_repository("svc", None)
    assert (repo.name, repo.registry_id) == ("svc", ACCOUNT)
    assert repo.image_scanning_configuration == {"scanOnPush": True}
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                           "config": {"digest": "sha256:" + "1" * 64}, "layers": []})
    backend.put_image("svc", manifest, "v1")
    image = repo._get_image("v1", None)
    assert image.image_digest.startswith("sha256:") and image.image_tags == ["v1"] and image.last_scan is None
    assert repo._get_image(None, image.image_digest) is image
    with pytest.raises(ImageNotFoundException):
        repo._get_image("nope", None)
    with pytest.raises(RepositoryNotFoundException):
        backend._get_repository("other", None)
    backend.start_image_scan(ACCOUNT, "svc", {"imageTag": "v1"})
    assert image.last_scan is not None
    answer = moto_ecr.answer(None, repo, image, datetime.now(timezone.utc))
    assert answer["imageScanStatus"]["status"] == "COMPLETE" and answer["imageScanFindings"]["findings"] == []


def test_describe_image_scan_findings_response_reads_its_parameters() -> None:
    from moto.ecr.responses import ECRResponse

    moto_ext.install()
    src = inspect.getsource(original(ECRResponse, "describe_image_scan_findings"))
    assert '"repositoryName"' in src and '"imageId"' in src and '"registryId"' in src
    assert "ecr_backend.describe_image_scan_findings" in src
    assert any(p.owner is ECRResponse and p.name == "describe_image_scan_findings" for p in moto_ext.patches())
