"""moto's own ECS, ELBv2 and CloudWatch tests against the local stack: the pytest plugin that runs them
(moto_conformance_plugin.py), the baseline of expected deviations (baseline.yaml) and the verdict on a run
(verdict.py). The run itself is tests/integration/test_moto_conformance.py."""
