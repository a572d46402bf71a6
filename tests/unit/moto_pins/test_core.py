"""moto_ext's core: the tested moto range, the patch registry, dispatch, reset hooks.

Fail loudly when moto changes: every internal is exercised on fresh in-memory backends (no server).
"""

from __future__ import annotations

import inspect
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from pipeline_py.local import moto_ext
from tests.unit.moto_pins._helpers import ACCOUNT, REGION

REPO = Path(__file__).resolve().parents[3]
WRAPPED_ECS = ["create_service", "update_service", "delete_service", "describe_services", "run_task",
               "describe_tasks", "list_tasks", "stop_task"]
ADDED_ECS = ["list_service_deployments", "describe_service_deployments", "describe_service_revisions",
             "stop_service_deployment"]
WRAPPED_ELBV2 = ["describe_target_health", "register_targets", "deregister_targets", "modify_listener", "modify_rule"]
REPLACED_CLOUDWATCH = ["get_metric_statistics", "get_metric_data", "list_metrics", "describe_alarms"]
ADDED_CLOUDWATCH = ["describe_alarm_history"]
WRAPPED_CLOUDWATCH_BACKEND = ["put_metric_data", "put_metric_alarm", "set_alarm_state"]


def test_installed_moto_is_in_the_tested_range() -> None:
    installed = version("moto")
    assert moto_ext.moto_version_supported(installed), (
        f"moto {installed} is outside {moto_ext.MOTO_RANGE}: re-run the simulator tests against it, fix "
        f"moto_ext.py, then widen MOTO_RANGE and the pins in pyproject.toml")
    assert moto_ext.moto_version_supported("5.2.1") and moto_ext.moto_version_supported("5.2.99")
    assert not moto_ext.moto_version_supported("5.2.0") and not moto_ext.moto_version_supported("5.3.0")


def test_pyproject_pins_the_same_range() -> None:
    text = (REPO / "pyproject.toml").read_text()
    pin = "moto[server]" + ",".join(moto_ext.MOTO_RANGE)
    assert text.count(f'"{pin}"') >= 2, f"pyproject.toml should pin {pin} in the local and dev extras"


def test_patches_replace_existing_actions_and_add_only_missing_ones() -> None:
    from moto.ecs.responses import EC2ContainerServiceResponse
    from moto.elbv2.responses import ELBV2Response

    moto_ext.install()
    recorded = {(p.owner, p.name): p for p in moto_ext.patches()}
    for name in WRAPPED_ECS:
        patch = recorded[(EC2ContainerServiceResponse, name)]
        assert inspect.isfunction(patch.original), f"moto no longer implements ECS {name}"
        assert list(inspect.signature(patch.original).parameters) == ["self"], name
    for name in ADDED_ECS:
        patch = recorded[(EC2ContainerServiceResponse, name)]
        assert patch.original is None, f"moto now implements ECS {name}: compare with ours and drop or adapt it"
    for name in WRAPPED_ELBV2:
        patch = recorded[(ELBV2Response, name)]
        assert inspect.isfunction(patch.original), f"moto no longer implements ELBv2 {name}"
    from moto.cloudwatch.models import CloudWatchBackend
    from moto.cloudwatch.responses import CloudWatchResponse

    for name in REPLACED_CLOUDWATCH:
        patch = recorded[(CloudWatchResponse, name)]
        assert inspect.isfunction(patch.original), f"moto no longer implements CloudWatch {name}"
        assert list(inspect.signature(patch.original).parameters) == ["self"], name
    for name in ADDED_CLOUDWATCH:
        assert recorded[(CloudWatchResponse, name)].original is None, (
            f"moto now implements CloudWatch {name}: compare with ours and drop or adapt it")
    for name in WRAPPED_CLOUDWATCH_BACKEND:
        assert inspect.isfunction(recorded[(CloudWatchBackend, name)].original), name
    for (owner, name), patch in recorded.items():
        assert owner.__dict__[name] is patch.replacement
    assert len(recorded) == len(moto_ext.patches()), "an action is patched twice"


def test_patched_actions_are_dispatchable() -> None:
    """moto dispatches to methods found by ``method_names_from_class`` (plain functions on the class)."""
    from moto.core.utils import camelcase_to_underscores, method_names_from_class
    from moto.ecs.responses import EC2ContainerServiceResponse

    moto_ext.install()
    names = method_names_from_class(EC2ContainerServiceResponse)
    for op in ("ListServiceDeployments", "DescribeServiceDeployments", "DescribeServiceRevisions",
               "StopServiceDeployment", "RunTask", "DescribeServices"):
        assert camelcase_to_underscores(op) in names


def test_moto_reset_also_resets_the_simulator() -> None:
    from moto.core.base_backend import BackendDict

    fidelity = moto_ext.install()
    patch = next(p for p in moto_ext.patches() if p.owner is BackendDict and p.name == "reset")
    assert isinstance(patch.original, classmethod), "moto's BackendDict.reset is no longer a classmethod"
    assert "backend_lock" in inspect.getsource(patch.original.__func__)
    fidelity.ecs.standalone["marker"] = object()  # type: ignore[assignment]
    BackendDict.reset()
    assert fidelity.ecs.standalone == {}


@pytest.mark.parametrize("module", ["moto.ecs.responses", "moto.elbv2.responses", "moto.cloudwatch.responses"])
def test_response_classes_use_automated_parameter_parsing(module: str) -> None:
    """Our wrappers read parameters with ``_get_param(camelCaseName)`` as moto's parser delivers them."""
    import importlib

    cls: Any = next(c for _, c in inspect.getmembers(importlib.import_module(module), inspect.isclass)
                    if c.__module__ == module and c.__name__.endswith("Response"))
    assert "automated_parameter_parsing = True" in inspect.getsource(cls.__init__)


def test_moto_reset_also_clears_metrics_traffic_and_faults() -> None:
    from moto.core.base_backend import BackendDict

    fidelity = moto_ext.install()
    fidelity.metrics.store(ACCOUNT, REGION).put_value(("N", "m", ()), 1.0, 1.0)
    fidelity.faults.active["elbv2.ignore_weight_changes"] = 2
    fidelity.traffic.overrides["web:80"] = 1.0
    BackendDict.reset()
    assert fidelity.metrics.stores == {} and fidelity.faults.active == {} and fidelity.traffic.overrides == {}
