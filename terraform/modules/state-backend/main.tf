resource "aws_s3_bucket" "state" {
  bucket = var.bucket_name

  tags = merge(var.tags, { Name = var.bucket_name })

  # Losing the state bucket orphans every environment; remove this block deliberately, never by a plan.
  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_s3_bucket_ownership_controls" "state" {
  bucket = aws_s3_bucket.state.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "state" {
  bucket = aws_s3_bucket.state.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "state" {
  bucket = aws_s3_bucket.state.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "state" {
  bucket = aws_s3_bucket.state.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.kms_key_arn == null ? "AES256" : "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = var.kms_key_arn != null
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "state" {
  count = var.noncurrent_version_retention_days == null ? 0 : 1

  bucket = aws_s3_bucket.state.id

  rule {
    id     = "expire-old-state-versions"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_retention_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.state]
}

data "aws_iam_policy_document" "state" {
  count = var.enforce_tls ? 1 : 0

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.state.arn, "${aws_s3_bucket.state.arn}/*"]

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

resource "aws_s3_bucket_policy" "state" {
  count = var.enforce_tls ? 1 : 0

  bucket = aws_s3_bucket.state.id
  policy = data.aws_iam_policy_document.state[0].json

  depends_on = [aws_s3_bucket_public_access_block.state]
}

resource "aws_dynamodb_table" "locks" {
  name                        = var.lock_table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "LockID"
  deletion_protection_enabled = true

  attribute {
    name = "LockID"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }

  tags = merge(var.tags, { Name = var.lock_table_name })
}

# pipeline-py's deploy lock: one item per service (LockId), a lease that expires (Expires, epoch seconds,
# also the TTL attribute so DynamoDB removes locks long dead). See pipeline_py/deploy/locking.py.
resource "aws_dynamodb_table" "deploy_locks" {
  count = var.deploy_lock_table_name == null ? 0 : 1

  name                        = var.deploy_lock_table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "LockId"
  deletion_protection_enabled = true

  attribute {
    name = "LockId"
    type = "S"
  }

  ttl {
    attribute_name = "Expires"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }

  tags = merge(var.tags, { Name = var.deploy_lock_table_name })
}

# Server access logs of the state bucket, into a bucket of their own.
locals {
  create_log_bucket = var.access_logging.enabled && var.access_logging.target_bucket == null
  log_bucket        = var.access_logging.enabled ? coalesce(var.access_logging.target_bucket, one(aws_s3_bucket.access_logs[*].id)) : null
}

resource "aws_s3_bucket_logging" "state" {
  count = var.access_logging.enabled ? 1 : 0

  bucket        = aws_s3_bucket.state.id
  target_bucket = local.log_bucket
  target_prefix = var.access_logging.prefix

  depends_on = [aws_s3_bucket_policy.access_logs]
}

resource "aws_s3_bucket" "access_logs" {
  count = local.create_log_bucket ? 1 : 0

  bucket = "${var.bucket_name}-access-logs"

  tags = merge(var.tags, { Name = "${var.bucket_name}-access-logs" })

  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_s3_bucket_ownership_controls" "access_logs" {
  count = local.create_log_bucket ? 1 : 0

  bucket = aws_s3_bucket.access_logs[0].id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "access_logs" {
  count = local.create_log_bucket ? 1 : 0

  bucket = aws_s3_bucket.access_logs[0].id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "access_logs" {
  count = local.create_log_bucket ? 1 : 0

  bucket = aws_s3_bucket.access_logs[0].id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "access_logs" {
  count = local.create_log_bucket ? 1 : 0

  bucket = aws_s3_bucket.access_logs[0].id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

# Only with a retention: terraform-provider-aws waits ~55 s for a new lifecycle configuration to settle.
resource "aws_s3_bucket_lifecycle_configuration" "access_logs" {
  count = local.create_log_bucket && var.access_logging.retention_days != null ? 1 : 0

  bucket = aws_s3_bucket.access_logs[0].id

  rule {
    id     = "expire-access-logs"
    status = "Enabled"

    filter {}

    expiration {
      days = var.access_logging.retention_days
    }

    noncurrent_version_expiration {
      noncurrent_days = 7
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.access_logs]
}

data "aws_caller_identity" "current" {}

data "aws_iam_policy_document" "access_logs" {
  count = local.create_log_bucket ? 1 : 0

  statement {
    sid       = "S3ServerAccessLogs"
    effect    = "Allow"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.access_logs[0].arn}/${var.access_logging.prefix}*"]

    principals {
      type        = "Service"
      identifiers = ["logging.s3.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [aws_s3_bucket.state.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }

  dynamic "statement" {
    for_each = var.enforce_tls ? [1] : []

    content {
      sid       = "DenyInsecureTransport"
      effect    = "Deny"
      actions   = ["s3:*"]
      resources = [aws_s3_bucket.access_logs[0].arn, "${aws_s3_bucket.access_logs[0].arn}/*"]

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
}

resource "aws_s3_bucket_policy" "access_logs" {
  count = local.create_log_bucket ? 1 : 0

  bucket = aws_s3_bucket.access_logs[0].id
  policy = data.aws_iam_policy_document.access_logs[0].json

  depends_on = [aws_s3_bucket_public_access_block.access_logs]
}

data "aws_region" "current" {}
