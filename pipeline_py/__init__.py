"""pipeline-py: build → push → render → terraform → deploy to ECS Fargate, the same from Jenkins and a laptop."""

__version__ = "1.0.0"
