variable "name" {
  description = "Name prefix (service-environment)."
  type        = string
}

variable "vpc_id" {
  description = "VPC the groups belong to."
  type        = string
}

variable "alb_ingress_cidrs" {
  description = "Who may reach the ALB on 80/443 (the internet by default)."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "https_enabled" {
  description = "Open 443 on the ALB (when the ALB has a certificate)."
  type        = bool
  default     = true
}

variable "test_listener_port" {
  description = "Port of the ALB test listener (reaches the idle colour)."
  type        = number
  default     = 8443
}

variable "test_listener_ingress_cidrs" {
  description = "Who may reach the test listener (e.g. the CI agents' CIDR). Empty = nobody from outside the ALB's own group; the seed opens only 80/443."
  type        = list(string)
  default     = []
}

variable "app_port" {
  description = "Container port the ALB forwards to."
  type        = number
  default     = 8080
}

variable "db_port" {
  description = "Database port."
  type        = number
  default     = 5432
}

variable "ecs_egress_https_cidrs" {
  description = "Where tasks may open HTTPS connections (ECR, CloudWatch Logs, Secrets Manager through the NAT gateways, or VPC endpoints)."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
