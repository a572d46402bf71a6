output "backend_config" {
  description = "The values for an environment's backend.hcl (add key = \"<service>/<env>/terraform.tfstate\")."
  value = {
    bucket         = module.state_backend.bucket
    region         = module.state_backend.region
    dynamodb_table = module.state_backend.lock_table
    encrypt        = true
  }
}

output "bucket_arn" {
  description = "For the deployer role's policy."
  value       = module.state_backend.bucket_arn
}

output "state_lock_table_arn" {
  description = "terraform's state lock table, for the deployer role's policy (was lock_table_arn before the deploy lock table came here)."
  value       = module.state_backend.lock_table_arn
}

output "lock_table" {
  description = "pipeline-py's deploy lock table (pipeline.yaml lock.table; pipeline-py-locks is its default)."
  value       = module.state_backend.deploy_lock_table
}

output "lock_table_arn" {
  description = "pipeline-py's deploy lock table ARN, for the deployer role's policy (dynamodb:GetItem, PutItem, UpdateItem, DeleteItem)."
  value       = module.state_backend.deploy_lock_table_arn
}

output "state_access_logs_bucket" {
  description = "Bucket of the state bucket's server access logs."
  value       = module.state_backend.access_logs_bucket
}
