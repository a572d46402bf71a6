"""The deploy engine: strategies of one shape (``strategy.Strategy``) over ports (``ports``) with AWS
adapters (``adapters``); watch, verify, analysis and rollback shared by all of them. Nothing here
knows about the command line (``commands/`` maps options to requests) or the local stack.

This module stays import-light: the CLI reads the strategy names from it to build ``--help``.
"""

STRATEGY_NAMES: tuple[str, ...] = ("rolling", "blue-green", "canary", "linear", "ecs-blue-green", "ecs-linear",
                                   "ecs-canary")
NATIVE_STRATEGIES: tuple[str, ...] = ("ecs-blue-green", "ecs-linear", "ecs-canary")
"""ECS-native strategies: one service, ECS moves the weights (``deploy/native.py``)."""
