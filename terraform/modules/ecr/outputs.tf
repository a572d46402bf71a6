output "repository_url" {
  description = "<account>.dkr.ecr.<region>.amazonaws.com/<name>"
  value       = aws_ecr_repository.this.repository_url
}

output "repository_arn" {
  description = "For pull permissions."
  value       = aws_ecr_repository.this.arn
}

output "repository_name" {
  description = "The repository name."
  value       = aws_ecr_repository.this.name
}

output "kms_key_arn" {
  description = "Key encrypting the images."
  value       = local.kms_key_arn
}
