variable "bucket_name" {
  description = "State bucket (globally unique, e.g. <org>-<account>-terraform-state)."
  type        = string
}

variable "lock_table_name" {
  description = "DynamoDB table terraform's S3 backend locks in (hash key LockID)."
  type        = string
  default     = "terraform-locks"
}

variable "kms_key_arn" {
  description = "Customer-managed key for the state objects; null = SSE-S3 (AES256)."
  type        = string
  default     = null
}

variable "noncurrent_version_retention_days" {
  description = "Expire superseded state versions after this many days; null = keep every version (the way back from any bad apply; state files are small)."
  type        = number
  default     = null
}

variable "enforce_tls" {
  description = "Bucket policy denying every request not made over TLS. Only a local emulator reached over plain HTTP needs false."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
