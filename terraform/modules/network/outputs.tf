output "vpc_id" {
  description = "The VPC."
  value       = aws_vpc.this.id
}

output "vpc_cidr_block" {
  description = "The VPC's CIDR."
  value       = aws_vpc.this.cidr_block
}

output "availability_zones" {
  description = "AZs the subnets are spread over."
  value       = local.azs
}

output "public_subnet_ids" {
  description = "Public subnets (the ALB), one per AZ."
  value       = aws_subnet.public[*].id
}

output "private_subnet_ids" {
  description = "Private subnets (ECS tasks, RDS), one per AZ."
  value       = aws_subnet.private[*].id
}

output "nat_gateway_ids" {
  description = "NAT gateways (one per AZ unless nat_gateway_per_az = false)."
  value       = aws_nat_gateway.this[*].id
}

output "flow_log_id" {
  description = "The VPC flow log, or null when disabled."
  value       = one(aws_flow_log.this[*].id)
}
