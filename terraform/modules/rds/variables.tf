variable "name" {
  description = "Identifier prefix (service-environment)."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets in at least two AZs."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "A DB subnet group needs subnets in at least two availability zones."
  }
}

variable "security_group_ids" {
  description = "Security groups of the instance."
  type        = list(string)
}

variable "instance_class" {
  description = "e.g. db.t3.micro (staging), db.t3.small (prod)."
  type        = string
}

variable "engine_version" {
  description = "PostgreSQL major (minor upgrades are automatic) or major.minor."
  type        = string
  default     = "16"
}

variable "parameter_group_family" {
  description = "Must match engine_version's major."
  type        = string
  default     = "postgres16"
}

variable "db_name" {
  description = "Initial database."
  type        = string
  default     = "app"
}

variable "username" {
  description = "Master user; its password is generated and rotated by RDS in Secrets Manager."
  type        = string
  default     = "app_admin"
}

variable "port" {
  description = "Listener port."
  type        = number
  default     = 5432
}

variable "allocated_storage" {
  description = "Initial storage (GiB)."
  type        = number
  default     = 20
}

variable "max_allocated_storage" {
  description = "Storage autoscaling ceiling (GiB); 0 = off."
  type        = number
  default     = 100
}

variable "multi_az" {
  description = "Synchronous standby in a second AZ."
  type        = bool
  default     = true
}

variable "backup_retention_days" {
  description = "Automated backups kept (30 in prod)."
  type        = number
  default     = 7

  validation {
    condition     = var.backup_retention_days >= 1 && var.backup_retention_days <= 35
    error_message = "backup_retention_days must be 1..35 (0 would disable backups)."
  }
}

variable "deletion_protection" {
  description = "Refuse DeleteDBInstance."
  type        = bool
  default     = true
}

variable "skip_final_snapshot" {
  description = "Delete without a final snapshot (never in prod)."
  type        = bool
  default     = false
}

variable "apply_immediately" {
  description = "Apply modifications now instead of in the maintenance window."
  type        = bool
  default     = false
}

variable "performance_insights_enabled" {
  description = "Performance Insights, encrypted with the instance's key (not available on every instance class)."
  type        = bool
  default     = false
}

variable "performance_insights_retention_days" {
  description = "Performance Insights retention: 7 (free tier), 31 * months (1..23), or 731."
  type        = number
  default     = 7

  validation {
    condition     = contains(concat([7, 731], [for m in range(1, 24) : m * 31]), var.performance_insights_retention_days)
    error_message = "performance_insights_retention_days must be 7, a multiple of 31 up to 713, or 731."
  }
}

variable "monitoring_interval" {
  description = "Enhanced monitoring: seconds between OS metrics (1, 5, 10, 15, 30, 60); 0 = off. The module creates the monitoring role."
  type        = number
  default     = 0

  validation {
    condition     = contains([0, 1, 5, 10, 15, 30, 60], var.monitoring_interval)
    error_message = "monitoring_interval must be one of 0, 1, 5, 10, 15, 30, 60."
  }
}

variable "backup_window" {
  description = "Daily backup window (UTC)."
  type        = string
  default     = "03:00-04:00"
}

variable "maintenance_window" {
  description = "Weekly maintenance window (UTC)."
  type        = string
  default     = "sun:04:30-sun:05:30"
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
