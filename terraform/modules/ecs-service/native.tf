# ECS-native blue/green, linear and canary (pipeline-py's ecs-blue-green, ecs-linear, ecs-canary):
# ONE service (the primary colour's) whose load balancer has an alternate target group, a production
# listener rule weighted between the two, a test listener rule, and a role ECS assumes to move the
# weights. ECS moves them during a deployment, so terraform ignores the rules' actions.
#
# The AWS provider pinned here (5.x) predates `deployment_configuration.strategy` and
# `load_balancer.advanced_configuration` (provider 6.4): terraform creates the service as a rolling
# one and pipeline-py sets the strategy and the advancedConfiguration (from the `native` outputs)
# with the first deploy. The provider does not read those attributes back, so a plan after a deploy
# shows no changes. With provider 6.4+, set them here and add them to ignore_changes.

locals {
  native          = var.native.enabled
  native_service  = contains(var.colours, var.primary_colour) ? var.primary_colour : var.colours[0]
  native_primary  = local.native ? var.target_group_arns[local.native_service] : null
  native_alt_name = substr("${var.name}-alt", 0, 32)
}

resource "aws_lb_target_group" "alternate" {
  count = local.native ? 1 : 0

  name                 = local.native_alt_name
  port                 = var.container_port
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = var.native.vpc_id
  deregistration_delay = var.native.deregistration_delay

  health_check {
    path                = var.native.health_check_path
    matcher             = "200"
    interval            = 10
    healthy_threshold   = 2
    unhealthy_threshold = 2
  }

  tags = merge(var.tags, { Role = "ecs-native-alternate" })
}

# The production rule starts all on the primary target group, the test rule all on the alternate.
resource "aws_lb_listener_rule" "native" {
  for_each = local.native ? {
    production = { listener_arn = var.native.production_listener_arn, primary_weight = 100 }
    test       = { listener_arn = var.native.test_listener_arn, primary_weight = 0 }
  } : {}

  listener_arn = each.value.listener_arn
  priority     = var.native.rule_priority

  action {
    type = "forward"

    forward {
      target_group {
        arn    = local.native_primary
        weight = each.value.primary_weight
      }
      target_group {
        arn    = aws_lb_target_group.alternate[0].arn
        weight = 100 - each.value.primary_weight
      }
    }
  }

  condition {
    path_pattern {
      values = ["/*"]
    }
  }

  tags = var.tags

  # ECS moves the weights (and swaps the target groups' roles) with every deployment.
  lifecycle {
    ignore_changes = [action]
  }
}

moved {
  from = aws_lb_listener_rule.native_production[0]
  to   = aws_lb_listener_rule.native["production"]
}

moved {
  from = aws_lb_listener_rule.native_test[0]
  to   = aws_lb_listener_rule.native["test"]
}

data "aws_iam_policy_document" "ecs_infrastructure_assume" {
  count = local.native ? 1 : 0

  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

# The role ECS assumes to modify the listener rules (advancedConfiguration.roleArn), with the
# AWS-managed policy made for it.
resource "aws_iam_role" "ecs_infrastructure" {
  count = local.native ? 1 : 0

  name               = substr("${var.name}-ecs-lb", 0, 64)
  description        = "ECS moves the listener-rule weights of ${var.name} during blue/green, linear and canary deployments"
  assume_role_policy = data.aws_iam_policy_document.ecs_infrastructure_assume[0].json

  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "ecs_infrastructure" {
  count = local.native ? 1 : 0

  role       = aws_iam_role.ecs_infrastructure[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers"
}
