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

output "lock_table_arn" {
  description = "For the deployer role's policy."
  value       = module.state_backend.lock_table_arn
}
