variable "service" {
  description = "Service name: names the repository, the cluster, alarms and tags."
  type        = string
}

variable "environment" {
  description = "Environment name (staging, prod)."
  type        = string
}

variable "region" {
  description = "AWS region."
  type        = string
}

variable "allowed_account_ids" {
  description = "Refuse to run against any other account (guards against a wrong profile). null = no check."
  type        = list(string)
  default     = null
}

variable "vpc_cidr" {
  description = "VPC CIDR (distinct per environment so they can be peered)."
  type        = string
}

variable "az_count" {
  description = "AZs for subnets and NAT gateways."
  type        = number
  default     = 2
}

variable "nat_gateway_per_az" {
  description = "One NAT gateway per AZ (the seed) or a single shared one."
  type        = bool
  default     = true
}

variable "flow_logs_enabled" {
  description = "VPC flow logs to CloudWatch Logs."
  type        = bool
  default     = true
}

variable "certificate_arn" {
  description = "ACM certificate for HTTPS on 443 (80 then redirects); null = HTTP on 80 only, which prod refuses."
  type        = string
  default     = null

  validation {
    condition     = var.certificate_arn != null || var.environment != "prod"
    error_message = "prod serves production over HTTPS only: set certificate_arn to the ACM certificate of the service's domain (environments/prod/terraform.tfvars)."
  }
  validation {
    condition     = var.certificate_arn == null || can(regex("^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[A-Za-z0-9-]+$", var.certificate_arn))
    error_message = "certificate_arn must be an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>)."
  }
}

variable "alb_access_logs" {
  description = "ALB access logs to S3 (modules/alb access_logs): enabled; bucket = null creates <service>-<env>-alb-logs-<account> with the ELB log-delivery policy, else an existing bucket that allows ELB log delivery; retention_days."
  type = object({
    enabled        = optional(bool, true)
    bucket         = optional(string)
    retention_days = optional(number, 90)
  })
  default = {}
}

variable "waf_web_acl_arn" {
  description = "WAFv2 web ACL (REGIONAL) to associate with the ALB; null = none."
  type        = string
  default     = null
}

variable "test_listener_port" {
  description = "Port of the ALB test listener (idle colour)."
  type        = number
  default     = 8443
}

variable "test_listener_ingress_cidrs" {
  description = "CIDRs allowed to reach the test listener (CI agents); empty = none."
  type        = list(string)
  default     = []
}

variable "alb_deletion_protection" {
  description = "ALB deletion protection."
  type        = bool
  default     = true
}

variable "container_port" {
  description = "Port the application listens on."
  type        = number
  default     = 8080
}

variable "health_check_path" {
  description = "ALB health check path of both target groups."
  type        = string
  default     = "/health"
}

variable "bootstrap_image_tag" {
  description = "Tag of the image in the environment's repository that the first task definition runs; every later revision comes from the pipeline."
  type        = string
  default     = "bootstrap"
}

variable "task_cpu" {
  description = "Fargate CPU units."
  type        = number
}

variable "task_memory" {
  description = "Fargate memory (MiB)."
  type        = number
}

variable "colours" {
  description = "[\"blue\"] for rolling deploys; [\"blue\", \"green\"] for blue-green, canary and linear."
  type        = list(string)
  default     = ["blue", "green"]
}

variable "desired_count" {
  description = "Initial tasks per service."
  type        = number
}

variable "autoscaling_min" {
  description = "Autoscaling minimum tasks per service."
  type        = number
}

variable "autoscaling_max" {
  description = "Autoscaling maximum tasks per service."
  type        = number
}

variable "autoscaling_enabled" {
  description = "Target tracking on CPU 70% / memory 80%."
  type        = bool
  default     = true
}

variable "db_enabled" {
  description = "Create the PostgreSQL instance."
  type        = bool
  default     = true
}

variable "db_instance_class" {
  description = "RDS instance class."
  type        = string
}

variable "db_multi_az" {
  description = "RDS Multi-AZ standby."
  type        = bool
}

variable "db_backup_retention_days" {
  description = "Automated backup retention."
  type        = number
}

variable "db_engine_version" {
  description = "PostgreSQL version."
  type        = string
  default     = "16"
}

variable "db_name" {
  description = "Initial database name."
  type        = string
  default     = "app"
}

variable "db_username" {
  description = "Master user name (password managed by RDS in Secrets Manager)."
  type        = string
  default     = "app_admin"
}

variable "db_deletion_protection" {
  description = "RDS deletion protection."
  type        = bool
  default     = true
}

variable "db_performance_insights_enabled" {
  description = "RDS Performance Insights (7 days, encrypted with the database's key)."
  type        = bool
  default     = false
}

variable "db_monitoring_interval" {
  description = "RDS enhanced monitoring interval in seconds (1, 5, 10, 15, 30, 60); 0 = off."
  type        = number
  default     = 0
}

variable "db_connections_alarm_threshold" {
  description = "Alarm when DatabaseConnections exceeds this (size it to the instance class)."
  type        = number
  default     = 80
}

variable "alarm_emails" {
  description = "Subscribers of the alarm topic."
  type        = list(string)
  default     = []
}

variable "monthly_budget_usd" {
  description = "Monthly cost budget; an alert fires at 80%. null = no budget."
  type        = number
  default     = null
}

variable "budget_emails" {
  description = "Addresses the budget alert is mailed to (besides the alarm topic)."
  type        = list(string)
  default     = []
}

variable "log_retention_days" {
  description = "Retention of the application logs."
  type        = number
  default     = 30
}

variable "extra_tags" {
  description = "Tags on every resource besides Service/Environment/ManagedBy."
  type        = map(string)
  default     = {}
}

variable "native_enabled" {
  description = "Make the primary service ready for ECS-native blue/green, linear and canary deploys (pipeline-py's ecs-* strategies): alternate target group, production and test listener rules, ECS's load-balancer role (output native)."
  type        = bool
  default     = false
}
