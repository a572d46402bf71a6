locals {
  colours     = ["blue", "green"]
  https       = var.certificate_arn != null
  idle_colour = var.initial_live_colour == "blue" ? "green" : "blue"
  weights     = { (var.initial_live_colour) = 100, (local.idle_colour) = 0 }
}

resource "aws_lb" "this" {
  name               = var.name
  load_balancer_type = "application"
  internal           = var.internal
  subnets            = var.subnet_ids
  security_groups    = var.security_group_ids

  idle_timeout               = var.idle_timeout
  drop_invalid_header_fields = true
  enable_deletion_protection = var.deletion_protection

  dynamic "access_logs" {
    for_each = var.access_logs_bucket == null ? [] : [var.access_logs_bucket]

    content {
      bucket  = access_logs.value
      prefix  = var.name
      enabled = true
    }
  }

  tags = merge(var.tags, { Name = var.name })
}

resource "aws_lb_target_group" "this" {
  for_each = toset(local.colours)

  name                 = "${var.name}-${each.key}"
  vpc_id               = var.vpc_id
  port                 = var.app_port
  protocol             = "HTTP"
  target_type          = "ip"
  deregistration_delay = var.deregistration_delay

  health_check {
    enabled             = true
    path                = var.health_check.path
    matcher             = var.health_check.matcher
    interval            = var.health_check.interval
    timeout             = var.health_check.timeout
    healthy_threshold   = var.health_check.healthy_threshold
    unhealthy_threshold = var.health_check.unhealthy_threshold
  }

  tags = merge(var.tags, { Name = "${var.name}-${each.key}", Colour = each.key })
}

# Production listener: 443 with a certificate, else 80. The pipeline shifts the blue/green
# weights, so terraform sets them once and ignores them afterwards.
resource "aws_lb_listener" "production" {
  load_balancer_arn = aws_lb.this.arn
  port              = local.https ? 443 : 80
  protocol          = local.https ? "HTTPS" : "HTTP"
  ssl_policy        = local.https ? var.ssl_policy : null
  certificate_arn   = var.certificate_arn

  dynamic "default_action" {
    for_each = var.routing_rule == null ? [1] : []

    content {
      type = "forward"

      forward {
        dynamic "target_group" {
          for_each = local.colours

          content {
            arn    = aws_lb_target_group.this[target_group.value].arn
            weight = local.weights[target_group.value]
          }
        }
      }
    }
  }

  dynamic "default_action" {
    for_each = var.routing_rule == null ? [] : [1]

    content {
      type = "fixed-response"

      fixed_response {
        content_type = "text/plain"
        message_body = "not found"
        status_code  = "404"
      }
    }
  }

  tags = merge(var.tags, { Name = "${var.name}-production" })

  lifecycle {
    ignore_changes = [default_action]
  }
}

resource "aws_lb_listener_rule" "production" {
  count = var.routing_rule == null ? 0 : 1

  listener_arn = aws_lb_listener.production.arn
  priority     = var.routing_rule.priority

  action {
    type = "forward"

    forward {
      dynamic "target_group" {
        for_each = local.colours

        content {
          arn    = aws_lb_target_group.this[target_group.value].arn
          weight = local.weights[target_group.value]
        }
      }
    }
  }

  dynamic "condition" {
    for_each = length(var.routing_rule.host_headers) > 0 ? [1] : []

    content {
      host_header {
        values = var.routing_rule.host_headers
      }
    }
  }

  dynamic "condition" {
    for_each = length(var.routing_rule.path_patterns) > 0 ? [1] : []

    content {
      path_pattern {
        values = var.routing_rule.path_patterns
      }
    }
  }

  tags = merge(var.tags, { Name = "${var.name}-production" })

  lifecycle {
    ignore_changes = [action]
  }
}

# With a certificate, plain HTTP only redirects.
resource "aws_lb_listener" "http_redirect" {
  count = local.https ? 1 : 0

  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"

    redirect {
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }
  }

  tags = merge(var.tags, { Name = "${var.name}-http-redirect" })
}

# Test listener: the pipeline points it at the idle colour for smoke tests before a shift.
resource "aws_lb_listener" "test" {
  load_balancer_arn = aws_lb.this.arn
  port              = var.test_listener_port
  protocol          = local.https ? "HTTPS" : "HTTP"
  ssl_policy        = local.https ? var.ssl_policy : null
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this[local.idle_colour].arn
  }

  tags = merge(var.tags, { Name = "${var.name}-test" })

  lifecycle {
    ignore_changes = [default_action]
  }
}
