output "alb_security_group_id" {
  description = "Attach to the ALB."
  value       = aws_security_group.alb.id
}

output "ecs_security_group_id" {
  description = "Attach to the ECS services."
  value       = aws_security_group.ecs.id
}

output "rds_security_group_id" {
  description = "Attach to the RDS instance."
  value       = aws_security_group.rds.id
}
