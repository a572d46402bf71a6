variable "name" {
  description = "Name prefix for every resource (service-environment)."
  type        = string
}

variable "cidr_block" {
  description = "VPC CIDR; public subnets take the first az_count /24s (via newbits), private ones the next."
  type        = string
  default     = "10.0.0.0/16"

  validation {
    condition     = can(cidrhost(var.cidr_block, 0))
    error_message = "cidr_block must be a valid IPv4 CIDR, e.g. 10.0.0.0/16."
  }
}

variable "az_count" {
  description = "Availability zones to spread subnets (and NAT gateways) over."
  type        = number
  default     = 2

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 6
    error_message = "az_count must be between 2 and 6 (the ALB and Multi-AZ RDS need at least two AZs)."
  }
}

variable "availability_zones" {
  description = "Explicit AZ names; empty = the first az_count available AZs of the region."
  type        = list(string)
  default     = []
}

variable "subnet_newbits" {
  description = "Bits added to the VPC prefix for each subnet (8 on a /16 gives /24 subnets)."
  type        = number
  default     = 8
}

variable "nat_gateway_per_az" {
  description = "One NAT gateway per AZ (resilient to an AZ outage). false = a single shared NAT gateway (cheaper, not HA)."
  type        = bool
  default     = true
}

variable "flow_logs_enabled" {
  description = "Capture VPC flow logs to CloudWatch Logs."
  type        = bool
  default     = true
}

variable "flow_logs_traffic_type" {
  description = "ACCEPT, REJECT or ALL."
  type        = string
  default     = "ALL"

  validation {
    condition     = contains(["ACCEPT", "REJECT", "ALL"], var.flow_logs_traffic_type)
    error_message = "flow_logs_traffic_type must be ACCEPT, REJECT or ALL."
  }
}

variable "flow_logs_retention_days" {
  description = "Retention of the flow-log log group."
  type        = number
  default     = 90
}

variable "tags" {
  description = "Tags added to every resource (on top of the provider's default_tags)."
  type        = map(string)
  default     = {}
}
