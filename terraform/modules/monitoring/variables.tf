variable "name" {
  description = "Name prefix (service-environment); alarms are <name>-5xx, <name>-p99, ..."
  type        = string
}

variable "alb_arn_suffix" {
  description = "LoadBalancer dimension (alb module output alb_arn_suffix)."
  type        = string
}

variable "cluster_name" {
  description = "ECS cluster."
  type        = string
}

variable "service_names" {
  description = "Service name per colour (ecs-service module output)."
  type        = map(string)
}

variable "db_instance_identifier" {
  description = "RDS instance; null = no database alarm."
  type        = string
  default     = null
}

variable "thresholds" {
  description = "Alarm thresholds. The seed: 5XX > 50 in 5 minutes, p99 > 500 ms."
  type = object({
    target_5xx_per_5min = optional(number, 50)
    p99_seconds         = optional(number, 0.5)
    cpu_percent         = optional(number, 85)
    memory_percent      = optional(number, 90)
    db_connections      = optional(number, 80)
  })
  default = {}
}

variable "alarm_emails" {
  description = "Addresses subscribed to the alarm topic (each must confirm)."
  type        = list(string)
  default     = []
}

variable "dashboard_enabled" {
  description = "Create the CloudWatch dashboard."
  type        = bool
  default     = true
}

variable "budget" {
  description = "Monthly cost budget alerting at alert_percent of limit_usd (actual spend). null = no budget."
  type = object({
    limit_usd     = number
    alert_percent = optional(number, 80)
    emails        = optional(list(string), [])
    cost_filters  = optional(map(list(string)), {})
  })
  default = null
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
