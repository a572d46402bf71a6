variable "name" {
  description = "Repository name (usually the service name: one repository serves every environment of an account)."
  type        = string
}

variable "kms_key_arn" {
  description = "Customer-managed key for image encryption; null = create one."
  type        = string
  default     = null
}

variable "image_tag_mutability" {
  description = "IMMUTABLE: a pushed tag can never point at another image."
  type        = string
  default     = "IMMUTABLE"

  validation {
    condition     = contains(["MUTABLE", "IMMUTABLE"], var.image_tag_mutability)
    error_message = "image_tag_mutability must be MUTABLE or IMMUTABLE."
  }
}

variable "scan_on_push" {
  description = "Basic vulnerability scan of every pushed image."
  type        = bool
  default     = true
}

variable "keep_tagged_images" {
  description = "Lifecycle policy: keep this many most recent tagged images."
  type        = number
  default     = 100
}

variable "untagged_expiry_days" {
  description = "Lifecycle policy: expire untagged images after this many days."
  type        = number
  default     = 7
}

variable "force_delete" {
  description = "Allow deleting the repository while it still holds images."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
