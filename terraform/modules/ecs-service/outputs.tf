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

output "native" {
  description = "ECS-native deploys (config: native.*): the alternate target group, the production and test listener rules and the role ECS assumes; null when native is off."
  value = local.native ? {
    service_name                 = aws_ecs_service.this[local.native_service].name
    production_target_group_arn  = local.native_primary
    alternate_target_group_arn   = aws_lb_target_group.alternate[0].arn
    production_listener_rule_arn = aws_lb_listener_rule.native["production"].arn
    test_listener_rule_arn       = aws_lb_listener_rule.native["test"].arn
    infrastructure_role_arn      = aws_iam_role.ecs_infrastructure[0].arn
  } : null
}
