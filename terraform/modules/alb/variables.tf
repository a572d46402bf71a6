variable "name" {
  description = "Name prefix (service-environment); the ALB is named after it, target groups get -blue/-green."
  type        = string

  validation {
    condition     = length(var.name) <= 26
    error_message = "name must be at most 26 characters (target group names are limited to 32 with the -green suffix)."
  }
}

variable "vpc_id" {
  description = "VPC of the target groups."
  type        = string
}

variable "subnet_ids" {
  description = "Public subnets (at least two AZs)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "An ALB needs subnets in at least two availability zones."
  }
}

variable "security_group_ids" {
  description = "Security groups of the ALB."
  type        = list(string)
}

variable "internal" {
  description = "Internal (private) load balancer instead of internet-facing."
  type        = bool
  default     = false
}

variable "app_port" {
  description = "Container port the target groups forward to."
  type        = number
  default     = 8080
}

variable "health_check" {
  description = "Target group health check (both colours)."
  type = object({
    path                = optional(string, "/health")
    matcher             = optional(string, "200")
    interval            = optional(number, 15)
    timeout             = optional(number, 5)
    healthy_threshold   = optional(number, 3)
    unhealthy_threshold = optional(number, 3)
  })
  default = {}
}

variable "deregistration_delay" {
  description = "Seconds a draining target keeps its in-flight requests."
  type        = number
  default     = 30
}

variable "certificate_arn" {
  description = "ACM certificate: when set, 443 serves production and 80 redirects to it; when null, 80 serves production."
  type        = string
  default     = null
}

variable "ssl_policy" {
  description = "TLS policy of the HTTPS listeners."
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"
}

variable "test_listener_port" {
  description = "Port of the test listener that forwards to the idle colour (HTTPS when a certificate is given)."
  type        = number
  default     = 8443
}

variable "initial_live_colour" {
  description = "Colour that receives 100% at creation. The pipeline owns the weights afterwards (ignore_changes)."
  type        = string
  default     = "blue"

  validation {
    condition     = contains(["blue", "green"], var.initial_live_colour)
    error_message = "initial_live_colour must be blue or green."
  }
}

variable "routing_rule" {
  description = "Route production traffic through a listener rule (e.g. on a shared ALB) instead of the default action. null = the default action carries the weights."
  type = object({
    priority      = optional(number, 100)
    host_headers  = optional(list(string), [])
    path_patterns = optional(list(string), ["/*"])
  })
  default = null
}

variable "idle_timeout" {
  description = "Connection idle timeout in seconds."
  type        = number
  default     = 60
}

variable "deletion_protection" {
  description = "Refuse DeleteLoadBalancer (turn off deliberately before removing an environment)."
  type        = bool
  default     = true
}

variable "access_logs" {
  description = "Access logs to S3. enabled = false: off. bucket = null: the module creates <name>-alb-logs-<account> (SSE-S3, which is all ELB log delivery supports; versioned; TLS only; expiring after retention_days) with the ELB log-delivery policy; else an existing bucket that already allows ELB log delivery under prefix."
  type = object({
    enabled        = optional(bool, false)
    bucket         = optional(string)
    prefix         = optional(string)
    retention_days = optional(number, 90)
  })
  default = {}

  validation {
    condition     = var.access_logs.retention_days >= 1
    error_message = "access_logs.retention_days must be at least 1."
  }
}

variable "waf_web_acl_arn" {
  description = "WAFv2 web ACL (REGIONAL scope) to associate with the ALB; null = none."
  type        = string
  default     = null

  validation {
    condition     = var.waf_web_acl_arn == null || can(regex("^arn:aws[a-z-]*:wafv2:[a-z0-9-]+:[0-9]{12}:regional/webacl/", var.waf_web_acl_arn))
    error_message = "waf_web_acl_arn must be the ARN of a REGIONAL WAFv2 web ACL (arn:aws:wafv2:<region>:<account>:regional/webacl/...)."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
