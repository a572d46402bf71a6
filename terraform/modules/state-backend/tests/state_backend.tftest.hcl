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
}

run "kms_and_version_expiry" {
  command = plan

  variables {
    kms_key_arn                       = "arn:aws:kms:us-east-1:123456789012:key/abc"
    noncurrent_version_retention_days = 365
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
