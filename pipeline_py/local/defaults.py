"""The local stack's default loopback ports and region (import-light: ``--help`` shows them)."""

DEFAULT_PORT = 4566
DEFAULT_REGISTRY_PORT = 5000
DEFAULT_REGION = "us-east-1"
