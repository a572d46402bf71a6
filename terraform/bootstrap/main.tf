# One per AWS account: the S3 bucket and DynamoDB table every environment's backend uses.

provider "aws" {
  region              = var.region
  allowed_account_ids = var.allowed_account_ids

  default_tags {
    tags = merge(var.tags, { ManagedBy = "terraform", Purpose = "terraform-state" })
  }
}

module "state_backend" {
  source = "../modules/state-backend"

  bucket_name     = var.bucket_name
  lock_table_name = var.lock_table_name
  kms_key_arn     = var.kms_key_arn

  noncurrent_version_retention_days = var.noncurrent_version_retention_days
  enforce_tls                       = var.enforce_tls
  access_logging                    = var.state_access_logging
  deploy_lock_table_name            = var.deploy_lock_table_name
}
