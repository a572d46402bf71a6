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

variable "state_access_logging" {
  description = "S3 server access logs of the state bucket (see the state-backend module's access_logging); on by default, into <bucket_name>-access-logs, every log kept (retention_days = null)."
  type = object({
    enabled        = optional(bool, true)
    target_bucket  = optional(string)
    prefix         = optional(string, "state-bucket/")
    retention_days = optional(number)
  })
  default = {}
}

variable "deploy_lock_table_name" {
  description = "pipeline-py's deploy lock table, one per account and region (pipeline.yaml lock.table); null = none."
  type        = string
  default     = "pipeline-py-locks"
}

variable "tags" {
  description = "Tags on every resource."
  type        = map(string)
  default     = {}
}
