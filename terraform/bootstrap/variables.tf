variable "region" {
  description = "Region of the state bucket and lock table."
  type        = string
}

variable "allowed_account_ids" {
  description = "Refuse to run against any other account. null = no check."
  type        = list(string)
  default     = null
}

variable "bucket_name" {
  description = "State bucket name (globally unique)."
  type        = string
}

variable "lock_table_name" {
  description = "Lock table name."
  type        = string
  default     = "terraform-locks"
}

variable "kms_key_arn" {
  description = "Customer-managed key for the state; null = SSE-S3."
  type        = string
  default     = null
}

variable "noncurrent_version_retention_days" {
  description = "Expire superseded state versions after this many days; null = keep them all."
  type        = number
  default     = null
}

variable "enforce_tls" {
  description = "Deny non-TLS access to the state bucket (false only for a plain-HTTP local emulator)."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags on every resource."
  type        = map(string)
  default     = {}
}
