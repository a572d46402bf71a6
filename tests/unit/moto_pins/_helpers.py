"""Helpers shared by the moto pin tests."""

from __future__ import annotations

from typing import Any

from pipeline_py.local import moto_ext
from pipeline_py.local.moto_ext.core import original_of

ACCOUNT, REGION = "123456789012", "us-east-1"  # the pin tests' in-memory backends


def original(owner: type, name: str) -> Any:
    """moto's own implementation of a patched ``owner.name``."""
    moto_ext.install()
    return original_of(owner, name)


def elbv2_with_subnet(account: str, octet: int) -> tuple[Any, Any, Any]:
    """A fresh ELBv2 backend of ``account`` (apart from the other tests': ELBv2 looks subnets up in the
    global EC2 backends), a VPC 10.<octet>.0.0/16 and one subnet in it: (backend, vpc, subnet)."""
    from moto.ec2.models import ec2_backends
    from moto.elbv2.models import ELBv2Backend

    ec2 = ec2_backends[account][REGION]
    vpc = ec2.create_vpc(f"10.{octet}.0.0/16")
    subnet = ec2.create_subnet(vpc.id, f"10.{octet}.1.0/24", availability_zone=f"{REGION}a")
    return ELBv2Backend(REGION, account), vpc, subnet
