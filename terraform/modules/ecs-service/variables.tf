variable "name" {
  description = "Name prefix (service-environment); the cluster, task family and services are named after it."
  type        = string
}

variable "container_name" {
  description = "Name of the application container (the load balancer targets it)."
  type        = string
  default     = "app"
}

variable "container_port" {
  description = "Port the application listens on."
  type        = number
  default     = 8080
}

variable "container_image" {
  description = "Image of the bootstrap task definition. The pipeline registers every later revision; terraform never rolls the services (ignore_changes)."
  type        = string
}

variable "container_environment" {
  description = "Plain environment variables of the bootstrap task definition."
  type        = map(string)
  default     = {}
}

variable "container_secrets" {
  description = "Environment variable name -> Secrets Manager / SSM ARN (valueFrom) of the bootstrap task definition."
  type        = map(string)
  default     = {}
}

variable "cpu" {
  description = "Fargate task CPU units (256 = 0.25 vCPU)."
  type        = number
}

variable "memory" {
  description = "Fargate task memory (MiB)."
  type        = number
}

variable "colours" {
  description = "Services to create: [\"blue\", \"green\"] for blue-green/canary/linear deploys, [\"blue\"] for a rolling-only environment."
  type        = list(string)
  default     = ["blue", "green"]

  validation {
    condition     = length(var.colours) > 0 && alltrue([for c in var.colours : contains(["blue", "green"], c)])
    error_message = "colours must be a non-empty subset of [\"blue\", \"green\"]."
  }
}

variable "primary_colour" {
  description = "The colour a rolling deploy targets (output service_name)."
  type        = string
  default     = "blue"
}

variable "subnet_ids" {
  description = "Private subnets for the tasks."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the tasks."
  type        = list(string)
}

variable "target_group_arns" {
  description = "Target group per colour (from the alb module; available only once a listener uses them)."
  type        = map(string)
}

variable "desired_count" {
  description = "Initial tasks per service. The pipeline and autoscaling own the count afterwards (ignore_changes)."
  type        = number
}

variable "autoscaling" {
  description = "Target tracking per service. min/max are each colour's initial bounds; afterwards the pipeline owns them (ignore_changes): a two-colour deploy gives the new colour the live colour's bounds and the old colour 0/0."
  type = object({
    enabled            = optional(bool, true)
    min_capacity       = number
    max_capacity       = number
    cpu_target         = optional(number, 70)
    memory_target      = optional(number, 80)
    scale_in_cooldown  = optional(number, 300)
    scale_out_cooldown = optional(number, 60)
  })

  validation {
    condition     = var.autoscaling.min_capacity <= var.autoscaling.max_capacity
    error_message = "autoscaling.min_capacity must not exceed max_capacity."
  }
}

variable "health_check_grace_period" {
  description = "Seconds the scheduler ignores failing ALB health checks after a task starts."
  type        = number
  default     = 60
}

variable "deployment_minimum_healthy_percent" {
  description = "Rolling deploys never go below this share of desired tasks."
  type        = number
  default     = 100
}

variable "deployment_maximum_percent" {
  description = "Rolling deploys may run up to this share of desired tasks."
  type        = number
  default     = 200
}

variable "container_insights" {
  description = "CloudWatch Container Insights on the cluster."
  type        = bool
  default     = true
}

variable "enable_execute_command" {
  description = "ECS Exec into tasks (adds ssmmessages permissions to the task role)."
  type        = bool
  default     = false
}

variable "log_retention_days" {
  description = "Retention of the application log group."
  type        = number
  default     = 30
}

variable "log_kms_key_arn" {
  description = "KMS key encrypting the log group; null = CloudWatch's default encryption."
  type        = string
  default     = null
}

variable "ecr_repository_arns" {
  description = "Repositories the execution role may pull from."
  type        = list(string)
}

variable "execution_secret_arns" {
  description = "Secrets the execution role may read to inject into containers (e.g. the database credentials)."
  type        = list(string)
  default     = []
}

variable "secrets_kms_key_arns" {
  description = "Customer-managed keys encrypting those secrets (decrypt only through Secrets Manager / SSM)."
  type        = list(string)
  default     = []
}

variable "ssm_parameter_path" {
  description = "SSM parameter path the application may read at run time (task role); null = /<name>/."
  type        = string
  default     = null
}

variable "task_secret_arns" {
  description = "Secrets the application itself may read at run time (task role)."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

variable "native" {
  description = "ECS-native blue/green, linear and canary on the primary colour's service: an alternate target group, a production rule on production_listener_arn and a test rule on test_listener_arn weighted between it and the service's target group, and the role ECS assumes to move the weights. pipeline-py sets the strategy and advancedConfiguration (provider 5.x cannot)."
  type = object({
    enabled                 = optional(bool, false)
    vpc_id                  = optional(string)
    production_listener_arn = optional(string)
    test_listener_arn       = optional(string)
    rule_priority           = optional(number, 1)
    health_check_path       = optional(string, "/health")
    deregistration_delay    = optional(number, 30)
  })
  default = {}

  validation {
    condition     = !var.native.enabled || (var.native.vpc_id != null && var.native.production_listener_arn != null && var.native.test_listener_arn != null)
    error_message = "native.enabled needs native.vpc_id, native.production_listener_arn and native.test_listener_arn."
  }
}
