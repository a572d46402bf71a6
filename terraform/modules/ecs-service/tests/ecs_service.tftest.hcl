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
  mock_resource "aws_lb_target_group" {
    defaults = { arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/svc-test-alt/0123456789abcdef" }
  }
  mock_resource "aws_lb_listener_rule" {
    defaults = { arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/svc/1/2/3" }
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

run "native_service_gets_an_alternate_target_group_weighted_rules_and_ecs_role" {
  variables {
    colours = ["blue"]
    native = {
      enabled                 = true
      vpc_id                  = "vpc-0123456789abcdef0"
      production_listener_arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/svc/1/80"
      test_listener_arn       = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/svc/1/8443"
    }
  }
  assert {
    condition     = aws_lb_target_group.alternate[0].name == "svc-test-alt" && aws_lb_target_group.alternate[0].target_type == "ip" && aws_lb_target_group.alternate[0].port == 8080
    error_message = "An alternate ip target group on the container port."
  }
  assert {
    condition     = { for tg in aws_lb_listener_rule.native["production"].action[0].forward[0].target_group : tg.arn => tg.weight } == { (var.target_group_arns.blue) = 100, (aws_lb_target_group.alternate[0].arn) = 0 } && { for tg in aws_lb_listener_rule.native["test"].action[0].forward[0].target_group : tg.arn => tg.weight } == { (var.target_group_arns.blue) = 0, (aws_lb_target_group.alternate[0].arn) = 100 }
    error_message = "Production rule 100/0 on the service's target group, test rule on the alternate one."
  }
  assert {
    condition     = aws_lb_listener_rule.native["production"].listener_arn == var.native.production_listener_arn && aws_lb_listener_rule.native["test"].listener_arn == var.native.test_listener_arn
    error_message = "The rules sit on the production and test listeners."
  }
  assert {
    condition     = aws_iam_role_policy_attachment.ecs_infrastructure[0].policy_arn == "arn:aws:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers"
    error_message = "ECS's role carries the AWS-managed load balancer policy."
  }
  assert {
    condition     = output.native.service_name == "svc-test-blue" && output.native.production_target_group_arn == var.target_group_arns.blue && output.native.infrastructure_role_arn != null
    error_message = "The native output names the service, its target groups, rules and role."
  }
}

run "native_needs_the_vpc_and_the_production_listener" {
  command = plan
  variables {
    native = { enabled = true }
  }
  expect_failures = [var.native]
}

run "native_off_creates_nothing_extra" {
  assert {
    condition     = length(aws_lb_target_group.alternate) == 0 && length(aws_iam_role.ecs_infrastructure) == 0 && output.native == null
    error_message = "Without native: no alternate target group, rules or role."
  }
}
