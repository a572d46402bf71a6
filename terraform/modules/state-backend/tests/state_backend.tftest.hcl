# terraform test (>= 1.7, mocked provider): the bucket is private, versioned, encrypted, TLS-only.
mock_provider "aws" {
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
}

variables {
  bucket_name = "org-123456789012-terraform-state"
}

# plan only: the bucket has prevent_destroy, so an applied test run could not clean up.
run "defaults_are_safe" {
  command = plan

  assert {
    condition     = aws_s3_bucket_versioning.state.versioning_configuration[0].status == "Enabled"
    error_message = "Versioning is on."
  }
  assert {
    condition     = aws_s3_bucket_public_access_block.state.block_public_acls && aws_s3_bucket_public_access_block.state.restrict_public_buckets
    error_message = "No public access."
  }
  assert {
    condition     = length(aws_s3_bucket_policy.state) == 1 && length(aws_s3_bucket_lifecycle_configuration.state) == 0
    error_message = "TLS enforced; every state version kept."
  }
  assert {
    condition     = aws_dynamodb_table.locks.hash_key == "LockID" && aws_dynamodb_table.locks.deletion_protection_enabled
    error_message = "The lock table has terraform's key and cannot be deleted by accident."
  }
  assert {
    condition     = aws_s3_bucket.access_logs[0].bucket == "org-123456789012-terraform-state-access-logs" && aws_s3_bucket_logging.state[0].target_prefix == "state-bucket/"
    error_message = "The state bucket's server access logs go to a bucket of their own."
  }
  assert {
    condition     = one([for r in aws_s3_bucket_server_side_encryption_configuration.access_logs[0].rule : r.apply_server_side_encryption_by_default[0].sse_algorithm]) == "AES256"
    error_message = "The access log bucket uses SSE-S3 (all S3 log delivery supports)."
  }
  assert {
    condition     = aws_s3_bucket_public_access_block.access_logs[0].block_public_policy && aws_s3_bucket_versioning.access_logs[0].versioning_configuration[0].status == "Enabled"
    error_message = "The access log bucket is private and versioned."
  }
  assert {
    condition     = length(aws_s3_bucket_lifecycle_configuration.access_logs) == 0
    error_message = "Every access log is kept by default (the state's audit trail)."
  }
  assert {
    condition = (aws_dynamodb_table.deploy_locks[0].name == "pipeline-py-locks" && aws_dynamodb_table.deploy_locks[0].hash_key == "LockId"
    && aws_dynamodb_table.deploy_locks[0].ttl[0].attribute_name == "Expires" && aws_dynamodb_table.deploy_locks[0].ttl[0].enabled)
    error_message = "pipeline-py's deploy lock table: key LockId, TTL on Expires."
  }
}

run "logs_to_an_existing_bucket_and_no_deploy_lock_table" {
  command = plan

  variables {
    access_logging         = { target_bucket = "org-s3-access-logs", prefix = "tf-state/" }
    deploy_lock_table_name = null
  }
  assert {
    condition     = length(aws_s3_bucket.access_logs) == 0 && aws_s3_bucket_logging.state[0].target_bucket == "org-s3-access-logs"
    error_message = "A given target bucket is used as it is."
  }
  assert {
    condition     = length(aws_dynamodb_table.deploy_locks) == 0 && output.deploy_lock_table == null
    error_message = "No deploy lock table when its name is null."
  }
}

run "kms_and_version_expiry" {
  command = plan

  variables {
    kms_key_arn                       = "arn:aws:kms:us-east-1:123456789012:key/abc"
    noncurrent_version_retention_days = 365
    access_logging                    = { retention_days = 730 }
  }
  assert {
    condition     = aws_s3_bucket_lifecycle_configuration.access_logs[0].rule[0].expiration[0].days == 730
    error_message = "Access logs expire when asked."
  }
  assert {
    condition     = one([for r in aws_s3_bucket_server_side_encryption_configuration.state.rule : r.apply_server_side_encryption_by_default[0].sse_algorithm]) == "aws:kms"
    error_message = "A customer key encrypts the state."
  }
  assert {
    condition     = aws_s3_bucket_lifecycle_configuration.state[0].rule[0].noncurrent_version_expiration[0].noncurrent_days == 365
    error_message = "Old versions expire when asked."
  }
}
