"""The deploy engine: strategies are phase machines over three small ports — services (ECS),
traffic (ALB listener weights) and analysis (CloudWatch metrics, alarms, smoke checks)."""
