# What pipeline-py reads (`terraform output -json`, see pipeline_py/tf_outputs.py) instead of
# repeating ARNs in pipeline.yaml.

output "region" {
  description = "Region of the environment."
  value       = var.region
}

output "cluster_name" {
  description = "ECS cluster (config: cluster)."
  value       = module.ecs_service.cluster_name
}

output "service_name" {
  description = "Service a rolling deploy updates (config: ecs_service)."
  value       = module.ecs_service.service_name
}

output "service_names" {
  description = "Service per colour (config: blue_green.services)."
  value       = module.ecs_service.service_names
}

output "target_group_arns" {
  description = "Target group per colour (config: blue_green.target_groups)."
  value       = module.alb.target_group_arns
}

output "production_listener_arn" {
  description = "Weighted production listener (config: blue_green.listener_arn)."
  value       = module.alb.production_listener_arn
}

output "production_rule_arn" {
  description = "Weighted production rule when routing through a rule, else null (config: blue_green.rule_arn)."
  value       = module.alb.production_rule_arn
}

output "test_listener_arn" {
  description = "Listener forwarding to the idle colour (config: blue_green.test_listener_arn)."
  value       = module.alb.test_listener_arn
}

output "alb_dns_name" {
  description = "DNS name of the ALB."
  value       = module.alb.alb_dns_name
}

output "ecr_repository_url" {
  description = "Image repository (config: image.repository takes its name)."
  value       = module.ecr.repository_url
}

output "deploy_alarm_names" {
  description = "Alarms a deploy watches (config: alarms)."
  value       = module.monitoring.deploy_alarm_names
}

output "alarm_names" {
  description = "Every alarm of the environment."
  value       = module.monitoring.alarm_names
}

output "alarm_topic_arn" {
  description = "SNS topic of the alarms and the budget."
  value       = module.monitoring.sns_topic_arn
}

output "task_definition_family" {
  description = "Family the pipeline registers revisions in."
  value       = module.ecs_service.task_definition_family
}

output "execution_role_arn" {
  description = "Task execution role for the task definition template."
  value       = module.ecs_service.execution_role_arn
}

output "task_role_arn" {
  description = "Task role for the task definition template."
  value       = module.ecs_service.task_role_arn
}

output "log_group_name" {
  description = "Application log group for the task definition template."
  value       = module.ecs_service.log_group_name
}

output "private_subnet_ids" {
  description = "Subnets for one-off tasks (run-task)."
  value       = module.network.private_subnet_ids
}

output "ecs_security_group_id" {
  description = "Security group for one-off tasks (run-task)."
  value       = module.security_groups.ecs_security_group_id
}

output "db_address" {
  description = "Database host, or null."
  value       = local.db == null ? null : local.db.address
}

output "db_secret_arn" {
  description = "Secrets Manager secret with the database credentials, or null."
  value       = local.db == null ? null : local.db.master_user_secret_arn
}

output "native" {
  description = "ECS-native deploys (config: native.alternate_target_group, native.production_listener_rule, native.test_listener_rule, native.role_arn), or null."
  value       = module.ecs_service.native
}
