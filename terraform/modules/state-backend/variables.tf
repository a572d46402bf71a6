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

variable "access_logging" {
  description = "S3 server access logs of the state bucket (who read or wrote which state, when). target_bucket = null: the module creates <bucket_name>-access-logs (SSE-S3, which is all S3 log delivery supports; versioned; TLS only; written only by the S3 logging service for this bucket); else an existing bucket that already accepts server access logs. retention_days = null keeps every log (the state's audit trail; small), else they expire."
  type = object({
    enabled        = optional(bool, true)
    target_bucket  = optional(string)
    prefix         = optional(string, "state-bucket/")
    retention_days = optional(number)
  })
  default = {}

  validation {
    condition     = var.access_logging.retention_days == null || try(var.access_logging.retention_days >= 1, false)
    error_message = "access_logging.retention_days must be at least 1 (or null: keep every log)."
  }
}

variable "deploy_lock_table_name" {
  description = "DynamoDB table of pipeline-py's deploy lock (partition key LockId, TTL on Expires; pipeline.yaml lock.table); null = do not create it."
  type        = string
  default     = "pipeline-py-locks"
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
