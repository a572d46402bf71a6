# terraform test (>= 1.7, mocked provider: no AWS calls). Access logs into a bucket the module makes,
# with the ELB log-delivery policy, and the optional WAF association.
mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  name               = "svc-test"
  vpc_id             = "vpc-0123456789abcdef0"
  subnet_ids         = ["subnet-a", "subnet-b"]
  security_group_ids = ["sg-alb"]
}

run "access_logs_go_to_a_bucket_only_elb_log_delivery_writes" {
  variables {
    access_logs = { enabled = true, retention_days = 30 }
  }
  assert {
    condition     = aws_s3_bucket.logs[0].bucket == "svc-test-alb-logs-123456789012"
    error_message = "The module creates <name>-alb-logs-<account>."
  }
  assert {
    condition     = aws_lb.this.access_logs[0].enabled && aws_lb.this.access_logs[0].prefix == "svc-test"
    error_message = "The ALB logs under its name."
  }
  assert {
    condition     = one([for r in aws_s3_bucket_server_side_encryption_configuration.logs[0].rule : r.apply_server_side_encryption_by_default[0].sse_algorithm]) == "AES256"
    error_message = "SSE-S3: ELB log delivery does not support SSE-KMS."
  }
  assert {
    condition     = aws_s3_bucket_lifecycle_configuration.logs[0].rule[0].expiration[0].days == 30
    error_message = "Logs expire after retention_days."
  }
  assert {
    condition     = aws_s3_bucket_public_access_block.logs[0].block_public_policy && aws_s3_bucket_public_access_block.logs[0].restrict_public_buckets
    error_message = "The log bucket is not public."
  }
  assert {
    condition = [for s in data.aws_iam_policy_document.logs[0].statement : s.sid] == [
    "ElbLogDelivery", "ElbLogDeliveryService", "DenyInsecureTransport"]
    error_message = "The policy lets the region's ELB account and the log delivery service write, over TLS only."
  }
  assert {
    condition     = one(data.aws_iam_policy_document.logs[0].statement[0].principals).identifiers == toset(["arn:aws:iam::127311923021:root"])
    error_message = "The ELB account of the region delivers the logs."
  }
  assert {
    condition     = length(aws_wafv2_web_acl_association.this) == 0 && output.access_logs_bucket == aws_s3_bucket.logs[0].id
    error_message = "No WAF unless asked; the bucket is exported."
  }
}

run "an_existing_bucket_and_a_web_acl" {
  variables {
    access_logs     = { enabled = true, bucket = "org-alb-logs", prefix = "svc" }
    waf_web_acl_arn = "arn:aws:wafv2:us-east-1:123456789012:regional/webacl/org-acl/0123abcd"
  }
  assert {
    condition     = length(aws_s3_bucket.logs) == 0 && aws_lb.this.access_logs[0].bucket == "org-alb-logs"
    error_message = "A given bucket is used as it is."
  }
  assert {
    condition     = aws_wafv2_web_acl_association.this[0].web_acl_arn == var.waf_web_acl_arn
    error_message = "The web ACL is associated with the ALB."
  }
}

run "a_global_web_acl_is_refused" {
  command = plan

  variables {
    waf_web_acl_arn = "arn:aws:wafv2:us-east-1:123456789012:global/webacl/cf-acl/0123abcd"
  }
  expect_failures = [var.waf_web_acl_arn]
}
