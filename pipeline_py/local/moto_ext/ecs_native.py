"""ECS-native blue/green, linear and canary (:mod:`pipeline_py.local.ecs_native`) wired into moto: ECS
moves the weights of moto's ELBv2 listener rules itself (so our ListenerRouter, the traffic model and
any load balancer reading ELBv2 state see them), reads CloudWatch alarm states, answers
``ContinueServiceDeployment`` (which moto lacks), and refuses invalid deployment configurations as
ECS does (``InvalidParameterException``): a PAUSE hook at a stage that takes Lambda hooks only, a
strategy configuration that does not match the strategy, a blue/green-family strategy without
``advancedConfiguration``, out-of-range percentages and minutes."""


from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pipeline_py.local import ecs_native
from pipeline_py.local.moto_ext.core import current, original_of, patch_moto
from pipeline_py.local.moto_ext.traffic import forward_groups

if TYPE_CHECKING:
    from pipeline_py.local.moto_ext.fidelity import Fidelity

log = logging.getLogger("pipeline_py.local")

# moto internals used here (pinned in tests/unit/moto_pins/test_ecs_native.py):
#   moto.elbv2.models.elbv2_backends; ELBv2Backend: load_balancers, target_groups;
#   FakeLoadBalancer.listeners; FakeListener: arn, default_actions, rules; FakeRule/FakeListenerRule: arn,
#   actions; FakeAction(data) (its constructor fills in TargetGroupStickinessConfig and weights)
#   moto.cloudwatch.models.cloudwatch_backends; CloudWatchBackend.alarms; Alarm.state_value
#   moto.ecs.responses.EC2ContainerServiceResponse: _get_param and the added action continue_service_deployment
#   moto.ecs.exceptions: InvalidParameterException, ECSException; moto.core.responses.ActionResult
#   moto.iam.models: IAMBackend.attach_role_policy (wrapped), IAMBackend.managed_policies, AWSManagedPolicy.from_data
#     (and .arn), moto.iam.aws_managed_policies.aws_managed_policies_data (JSON text: name -> policy data)

STRATEGIES = ("ROLLING", *ecs_native.NATIVE_STRATEGIES)


def install(fidelity: Fidelity) -> None:
    from moto.ecs.responses import EC2ContainerServiceResponse as R
    from moto.iam.models import IAMBackend

    fidelity.ecs.native_world = MotoNativeWorld()
    patch_moto(R, "continue_service_deployment", _ecs_continue_service_deployment)
    patch_moto(IAMBackend, "attach_role_policy", _iam_attach_role_policy)


_AWS_POLICIES: dict[str, Any] | None = None


def _iam_attach_role_policy(self: Any, policy_arn: str, role_name: str) -> None:
    """moto knows AWS-managed policies only when told to load all of them at start (slow); an attach of
    one it knows the document of (``AmazonECSInfrastructureRolePolicyForLoadBalancers``, the role ECS
    assumes to move listener-rule weights, as terraform's ecs-service module attaches it) loads that one."""
    import json

    from moto.iam.aws_managed_policies import aws_managed_policies_data
    from moto.iam.models import AWSManagedPolicy, IAMBackend

    global _AWS_POLICIES
    marker = ":iam::aws:policy/"
    if marker in policy_arn and policy_arn not in self.managed_policies:
        if _AWS_POLICIES is None:
            _AWS_POLICIES = json.loads(aws_managed_policies_data)
        name = policy_arn.rsplit("/", 1)[-1]
        data = _AWS_POLICIES.get(name)
        if data is not None:
            policy = AWSManagedPolicy.from_data(name, self.account_id, self.region_name, data)
            if policy.arn == policy_arn:
                self.managed_policies[policy.arn] = policy
    original_of(IAMBackend, "attach_role_policy")(self, policy_arn, role_name)


def _invalid(message: str) -> Exception:
    from moto.ecs.exceptions import InvalidParameterException

    return InvalidParameterException(message)


def _split(arn: str) -> tuple[str, str]:
    parts = arn.split(":")
    return (parts[4], parts[3]) if len(parts) > 5 else ("123456789012", "us-east-1")


class MotoNativeWorld:
    """:class:`~pipeline_py.local.ecs_native.NativeWorld` on moto's ELBv2 and CloudWatch backends (called
    under the fidelity lock)."""

    @staticmethod
    def _find(arn: str) -> tuple[Any, Any] | None:
        """(owner, is_listener) of a listener rule ARN, or of a listener ARN (an NLB's production 'rule')."""
        from moto.elbv2.models import elbv2_backends

        account, region = _split(arn)
        try:
            backend = elbv2_backends[account][region]
        except KeyError:
            return None
        for lb in list(backend.load_balancers.values()):
            for listener in list(lb.listeners.values()):
                if listener.arn == arn:
                    return listener, True
                for rule in list(listener.rules.values()):
                    if rule.arn == arn:
                        return rule, False
        return None

    def forwards(self, rule_arn: str) -> dict[str, int] | None:
        found = self._find(rule_arn)
        if found is None:
            return None
        owner, is_listener = found
        actions = owner.default_actions if is_listener else owner.actions
        return dict(forward_groups(list(actions)))

    def set_forwards(self, rule_arn: str, weights: dict[str, int]) -> bool:
        from moto.elbv2.models import FakeAction

        found = self._find(rule_arn)
        if found is None:
            return False
        owner, is_listener = found
        actions = list(owner.default_actions if is_listener else owner.actions)
        old = next((a for a in actions if (getattr(a, "data", {}) or {}).get("Type") == "forward"), None)
        stickiness = ((getattr(old, "data", {}) or {}).get("ForwardConfig") or {}).get(
            "TargetGroupStickinessConfig") or {"Enabled": False}
        data: dict[str, Any] = {"Type": "forward", "ForwardConfig": {
            "TargetGroups": [{"TargetGroupArn": tg, "Weight": int(w)} for tg, w in weights.items()],
            "TargetGroupStickinessConfig": dict(stickiness)}}
        if old is not None and (old.data or {}).get("Order") is not None:
            data["Order"] = old.data["Order"]
        new = FakeAction(data)
        replaced = [new if a is old else a for a in actions] if old is not None else [*actions, new]
        if is_listener:
            owner.default_actions = replaced
        else:
            owner.actions = replaced
        return True

    def alarm_state(self, name: str, account: str, region: str) -> str | None:
        from moto.cloudwatch.models import cloudwatch_backends

        try:
            alarm = cloudwatch_backends[account][region].alarms.get(name)
        except KeyError:
            return None
        return None if alarm is None else str(alarm.state_value)


# ---- validation of CreateService / UpdateService -------------------------------------------------------


def _number(value: Any, what: str, low: float, high: float, *, tenths: bool = False) -> None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise _invalid(f"{what} must be a number.") from None
    if not low <= x <= high:
        raise _invalid(f"{what} must be between {low:g} and {high:g}.")
    if tenths and abs(x * 10 - round(x * 10)) > 1e-9:
        raise _invalid(f"{what} must be a multiple of 0.1.")


def validate(config: dict[str, Any] | None, load_balancers: list[dict[str, Any]] | None, *,
             current_strategy: str = "ROLLING") -> None:
    """What ECS checks of a deployment configuration and the load balancers it needs; raises
    ``InvalidParameterException`` (moto's) with ECS's kind of message."""
    config = config or {}
    strategy = str(config.get("strategy") or current_strategy)
    if strategy not in STRATEGIES:
        raise _invalid(f"Invalid deployment strategy {strategy}: use one of {', '.join(STRATEGIES)}.")
    if config.get("linearConfiguration") is not None and strategy != "LINEAR":
        raise _invalid("linearConfiguration is only valid when the deployment strategy is LINEAR.")
    if config.get("canaryConfiguration") is not None and strategy != "CANARY":
        raise _invalid("canaryConfiguration is only valid when the deployment strategy is CANARY.")
    linear = config.get("linearConfiguration") or {}
    if "stepPercent" in linear:
        _number(linear["stepPercent"], "linearConfiguration.stepPercent", 3.0, 100.0, tenths=True)
    if "stepBakeTimeInMinutes" in linear:
        _number(linear["stepBakeTimeInMinutes"], "linearConfiguration.stepBakeTimeInMinutes", 0, 1440)
    canary = config.get("canaryConfiguration") or {}
    if "canaryPercent" in canary:
        _number(canary["canaryPercent"], "canaryConfiguration.canaryPercent", 0.1, 100.0, tenths=True)
    if "canaryBakeTimeInMinutes" in canary:
        _number(canary["canaryBakeTimeInMinutes"], "canaryConfiguration.canaryBakeTimeInMinutes", 0, 1440)
    if config.get("bakeTimeInMinutes") is not None:
        _number(config["bakeTimeInMinutes"], "bakeTimeInMinutes", 0, 1440)
    hooks = config.get("lifecycleHooks") or []
    if hooks and strategy == "ROLLING":
        raise _invalid("lifecycleHooks are only supported with the BLUE_GREEN, LINEAR and CANARY deployment "
                       "strategies.")
    for hook in hooks:
        kind = hook.get("targetType") or "AWS_LAMBDA"
        stages = hook.get("lifecycleStages") or []
        if not stages:
            raise _invalid("A lifecycle hook must specify at least one lifecycle stage.")
        for stage in stages:
            if stage not in ecs_native.HOOK_STAGES:
                raise _invalid(f"Invalid lifecycle stage {stage}.")
            if kind == "PAUSE" and stage in ecs_native.NO_PAUSE_STAGES:
                raise _invalid(f"PAUSE lifecycle hooks are not supported for the {stage} lifecycle stage; "
                               f"{' and '.join(ecs_native.NO_PAUSE_STAGES)} support only AWS_LAMBDA hooks.")
        if kind == "PAUSE" and hook.get("hookTargetArn"):
            raise _invalid("hookTargetArn is not applicable for PAUSE lifecycle hooks.")
        if kind == "AWS_LAMBDA" and not hook.get("hookTargetArn"):
            raise _invalid("hookTargetArn is required for AWS_LAMBDA lifecycle hooks.")
        timeout = hook.get("timeoutConfiguration") or {}
        if timeout.get("timeoutInMinutes") is not None:
            _number(timeout["timeoutInMinutes"], "timeoutConfiguration.timeoutInMinutes", 1, 20160)
    if strategy in ecs_native.NATIVE_STRATEGIES:
        _validate_advanced(strategy, load_balancers or [])


def _validate_advanced(strategy: str, load_balancers: list[dict[str, Any]]) -> None:
    from moto.elbv2.models import elbv2_backends

    if not load_balancers:
        return  # a headless service: ECS shifts no traffic (nothing to check)
    native = [lb for lb in load_balancers if lb.get("advancedConfiguration")]
    if not native:
        raise _invalid(f"The {strategy} deployment strategy requires advancedConfiguration (alternateTargetGroupArn, "
                       "productionListenerRule, roleArn) on the service's load balancer.")
    for lb in native:
        adv = lb["advancedConfiguration"]
        for key in ("alternateTargetGroupArn", "productionListenerRule", "roleArn"):
            if not adv.get(key):
                raise _invalid(f"advancedConfiguration.{key} is required for the {strategy} deployment strategy.")
        alt = str(adv["alternateTargetGroupArn"])
        if alt == lb.get("targetGroupArn"):
            raise _invalid("advancedConfiguration.alternateTargetGroupArn must differ from targetGroupArn.")
        account, region = _split(alt)
        try:
            backend = elbv2_backends[account][region]
        except KeyError:
            backend = None
        if backend is None or alt not in backend.target_groups:
            raise _invalid(f"The target group {alt} does not exist.")
        for key in ("productionListenerRule", "testListenerRule"):
            arn = adv.get(key)
            if arn and MotoNativeWorld._find(str(arn)) is None:
                raise _invalid(f"advancedConfiguration.{key}: the listener rule {arn} does not exist.")


def validate_request(resp: Any, sim_service: Any) -> None:
    """``validate`` for the CreateService / UpdateService request ``resp`` (a moto response object) of
    the simulated service ``sim_service`` (None on create)."""
    config = resp._get_param("deploymentConfiguration")
    lbs = resp._get_param("loadBalancers")
    if lbs is None and sim_service is not None:
        lbs = [lb.to_api() for lb in sim_service.load_balancers]
    current_strategy = ecs_native.strategy_of(sim_service.deployment_config) if sim_service is not None else "ROLLING"
    if config is None and lbs is None:
        return
    validate(config, lbs, current_strategy=current_strategy)


# ---- ContinueServiceDeployment ---------------------------------------------------------------------------


def _ecs_continue_service_deployment(self: Any) -> Any:
    from moto.core.responses import ActionResult
    from moto.ecs.exceptions import ECSException

    fid = current()
    with fid.lock:
        arn = self._get_param("serviceDeploymentArn")
        hook_id = self._get_param("hookId")
        action = self._get_param("action") or "CONTINUE"
        record = fid.ecs.find_service_deployment(arn)
        if record is None:
            raise ECSException("ServiceDeploymentNotFoundException", f"The service deployment {arn} does not exist.")
        try:
            ecs_native.continue_deployment(fid.ecs, record, hook_id, action, fid.now())
        except ecs_native.NativeError as exc:
            raise _invalid(str(exc)) from None
        fid.advance_metrics()
        return ActionResult({"serviceDeploymentArn": arn})
