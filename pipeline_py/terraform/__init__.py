"""Terraform for an environment: its directories and backend, the provider mirror, the safe runner,
plans and outputs."""
