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
