locals {
  colours     = ["blue", "green"]
  https       = var.certificate_arn != null
  idle_colour = var.initial_live_colour == "blue" ? "green" : "blue"
  weights     = { (var.initial_live_colour) = 100, (local.idle_colour) = 0 }

  create_logs_bucket = var.access_logs.enabled && var.access_logs.bucket == null
  logs_prefix        = coalesce(var.access_logs.prefix, var.name)
  logs_bucket        = var.access_logs.enabled ? coalesce(var.access_logs.bucket, one(aws_s3_bucket.logs[*].id)) : null
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
    for_each = var.access_logs.enabled ? [1] : []

    content {
      bucket  = local.logs_bucket
      prefix  = local.logs_prefix
      enabled = true
    }
  }

  tags = merge(var.tags, { Name = var.name })

  # ELB checks that it may write to the bucket when access logs are turned on.
  depends_on = [aws_s3_bucket_policy.logs]
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

# WAF: the organisation's web ACL (REGIONAL) in front of the ALB, when one is given.
resource "aws_wafv2_web_acl_association" "this" {
  count = var.waf_web_acl_arn == null ? 0 : 1

  resource_arn = aws_lb.this.arn
  web_acl_arn  = var.waf_web_acl_arn
}

# Access logs: a bucket only ELB log delivery writes to (under <prefix>/AWSLogs/<account>/), over TLS,
# encrypted with SSE-S3 (ELB log delivery does not support SSE-KMS), kept retention_days.
data "aws_caller_identity" "current" {
  count = local.create_logs_bucket ? 1 : 0
}

data "aws_elb_service_account" "this" {
  count = local.create_logs_bucket ? 1 : 0
}

resource "aws_s3_bucket" "logs" {
  count = local.create_logs_bucket ? 1 : 0

  bucket = "${var.name}-alb-logs-${data.aws_caller_identity.current[0].account_id}"

  tags = merge(var.tags, { Name = "${var.name}-alb-logs" })
}

resource "aws_s3_bucket_ownership_controls" "logs" {
  count = local.create_logs_bucket ? 1 : 0

  bucket = aws_s3_bucket.logs[0].id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "logs" {
  count = local.create_logs_bucket ? 1 : 0

  bucket = aws_s3_bucket.logs[0].id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "logs" {
  count = local.create_logs_bucket ? 1 : 0

  bucket = aws_s3_bucket.logs[0].id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "logs" {
  count = local.create_logs_bucket ? 1 : 0

  bucket = aws_s3_bucket.logs[0].id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "logs" {
  count = local.create_logs_bucket ? 1 : 0

  bucket = aws_s3_bucket.logs[0].id

  rule {
    id     = "expire-access-logs"
    status = "Enabled"

    filter {}

    expiration {
      days = var.access_logs.retention_days
    }

    noncurrent_version_expiration {
      noncurrent_days = 7
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.logs]
}

data "aws_iam_policy_document" "logs" {
  count = local.create_logs_bucket ? 1 : 0

  # Regions opened before August 2022: the region's Elastic Load Balancing account delivers the logs.
  statement {
    sid       = "ElbLogDelivery"
    effect    = "Allow"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.logs[0].arn}/${local.logs_prefix}/AWSLogs/${data.aws_caller_identity.current[0].account_id}/*"]

    principals {
      type        = "AWS"
      identifiers = [data.aws_elb_service_account.this[0].arn]
    }
  }

  # Newer regions: the log delivery service principal.
  statement {
    sid       = "ElbLogDeliveryService"
    effect    = "Allow"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.logs[0].arn}/${local.logs_prefix}/AWSLogs/${data.aws_caller_identity.current[0].account_id}/*"]

    principals {
      type        = "Service"
      identifiers = ["logdelivery.elasticloadbalancing.amazonaws.com"]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.logs[0].arn, "${aws_s3_bucket.logs[0].arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "logs" {
  count = local.create_logs_bucket ? 1 : 0

  bucket = aws_s3_bucket.logs[0].id
  policy = data.aws_iam_policy_document.logs[0].json

  depends_on = [aws_s3_bucket_public_access_block.logs]
}
