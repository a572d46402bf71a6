# terraform test (>= 1.7, mocked provider): colours, autoscaling, the bootstrap revision.
mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_region" {
    defaults = { name = "us-east-1" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/svc-test" }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:us-east-1:123456789012:log-group:/ecs/svc-test" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
}

variables {
  name               = "svc-test"
  container_image    = "123456789012.dkr.ecr.us-east-1.amazonaws.com/svc:bootstrap"
  cpu                = 512
  memory             = 1024
  subnet_ids         = ["subnet-a", "subnet-b"]
  security_group_ids = ["sg-ecs"]
  target_group_arns = {
    blue  = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/svc-test-blue/0123456789abcdef"
    green = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/svc-test-green/0123456789abcdef"
  }
  desired_count       = 3
  autoscaling         = { min_capacity = 3, max_capacity = 10 }
  ecr_repository_arns = ["arn:aws:ecr:us-east-1:123456789012:repository/svc"]
}

run "blue_and_green_services_with_target_tracking" {
  assert {
    condition     = sort(keys(aws_ecs_service.this)) == sort(["blue", "green"]) && output.service_name == "svc-test-blue"
    error_message = "Both colours exist; rolling deploys target blue."
  }
  assert {
    condition     = alltrue([for s in aws_ecs_service.this : s.deployment_circuit_breaker[0].enable && s.deployment_circuit_breaker[0].rollback && !s.network_configuration[0].assign_public_ip])
    error_message = "Circuit breaker with rollback; no public IPs."
  }
  assert {
    condition     = one(aws_ecs_service.this["green"].load_balancer).target_group_arn == var.target_group_arns.green
    error_message = "Each colour registers in its own target group."
  }
  assert {
    condition     = alltrue([for t in aws_appautoscaling_target.this : t.min_capacity == 3 && t.max_capacity == 10])
    error_message = "Autoscaling 3-10 per colour."
  }
  assert {
    condition     = aws_appautoscaling_policy.cpu["blue"].target_tracking_scaling_policy_configuration[0].target_value == 70 && aws_appautoscaling_policy.memory["green"].target_tracking_scaling_policy_configuration[0].target_value == 80
    error_message = "Target tracking CPU 70% and memory 80%."
  }
  assert {
    condition     = one([for s in aws_ecs_cluster.this.setting : s.value if s.name == "containerInsights"]) == "enabled"
    error_message = "Container insights on."
  }
}

run "the_pipeline_owns_the_bounds_after_creation" {
  variables {
    autoscaling = { min_capacity = 1, max_capacity = 4 }
  }
  assert {
    condition     = alltrue([for t in aws_appautoscaling_target.this : t.min_capacity == 3 && t.max_capacity == 10])
    error_message = "Terraform sets the initial bounds only: later changes (and the pipeline's) are ignored."
  }
}

run "rolling_environment_runs_one_colour" {
  variables {
    colours     = ["blue"]
    autoscaling = { enabled = false, min_capacity = 1, max_capacity = 1 }
  }
  assert {
    condition     = sort(keys(aws_ecs_service.this)) == sort(["blue"]) && length(aws_appautoscaling_target.this) == 0
    error_message = "One service, no autoscaling."
  }
}

run "unknown_colour_is_refused" {
  command = plan
  variables {
    colours = ["red"]
  }
  expect_failures = [var.colours]
}
