output "db_instance_identifier" {
  description = "DBInstanceIdentifier dimension of the RDS metrics."
  value       = aws_db_instance.this.identifier
}

output "db_instance_arn" {
  description = "The instance."
  value       = aws_db_instance.this.arn
}

output "address" {
  description = "Hostname of the instance."
  value       = aws_db_instance.this.address
}

output "port" {
  description = "Port of the instance."
  value       = aws_db_instance.this.port
}

output "db_name" {
  description = "Initial database."
  value       = aws_db_instance.this.db_name
}

output "master_user_secret_arn" {
  description = "Secrets Manager secret holding the master credentials (JSON: username, password)."
  value       = try(aws_db_instance.this.master_user_secret[0].secret_arn, null)
}

output "kms_key_arn" {
  description = "Key encrypting storage, snapshots and the master secret."
  value       = aws_kms_key.this.arn
}

output "monitoring_role_arn" {
  description = "Role RDS publishes enhanced monitoring with, or null when it is off."
  value       = one(aws_iam_role.monitoring[*].arn)
}
