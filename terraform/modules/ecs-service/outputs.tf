output "cluster_name" {
  description = "The ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "cluster_arn" {
  description = "The ECS cluster ARN."
  value       = aws_ecs_cluster.this.arn
}

output "service_names" {
  description = "Service name per colour."
  value       = { for colour, svc in aws_ecs_service.this : colour => svc.name }
}

output "service_name" {
  description = "The service a rolling deploy targets (primary_colour, or the only colour)."
  value       = aws_ecs_service.this[contains(var.colours, var.primary_colour) ? var.primary_colour : var.colours[0]].name
}

output "task_definition_family" {
  description = "Family the pipeline registers revisions in."
  value       = aws_ecs_task_definition.bootstrap.family
}

output "bootstrap_task_definition_arn" {
  description = "The revision terraform registered (the services may run a newer one)."
  value       = aws_ecs_task_definition.bootstrap.arn
}

output "execution_role_arn" {
  description = "Task execution role (for the pipeline's task definition template)."
  value       = aws_iam_role.execution.arn
}

output "task_role_arn" {
  description = "Task role (for the pipeline's task definition template)."
  value       = aws_iam_role.task.arn
}

output "log_group_name" {
  description = "Application log group."
  value       = aws_cloudwatch_log_group.this.name
}
