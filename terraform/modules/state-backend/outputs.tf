output "bucket" {
  description = "The state bucket."
  value       = aws_s3_bucket.state.id
}

output "bucket_arn" {
  description = "The state bucket ARN (for the deployer role's policy)."
  value       = aws_s3_bucket.state.arn
}

output "lock_table" {
  description = "The lock table."
  value       = aws_dynamodb_table.locks.name
}

output "lock_table_arn" {
  description = "The lock table ARN (for the deployer role's policy)."
  value       = aws_dynamodb_table.locks.arn
}

output "region" {
  description = "Region of the bucket and the table."
  value       = data.aws_region.current.name
}

output "deploy_lock_table" {
  description = "pipeline-py's deploy lock table (pipeline.yaml lock.table), or null."
  value       = one(aws_dynamodb_table.deploy_locks[*].name)
}

output "deploy_lock_table_arn" {
  description = "The deploy lock table ARN (for the deployer role's policy), or null."
  value       = one(aws_dynamodb_table.deploy_locks[*].arn)
}

output "access_logs_bucket" {
  description = "Bucket the state bucket's server access logs go to, or null when off."
  value       = local.log_bucket
}
