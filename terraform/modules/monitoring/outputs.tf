output "sns_topic_arn" {
  description = "Topic every alarm and the budget notify."
  value       = aws_sns_topic.alarms.arn
}

output "deploy_alarm_names" {
  description = "Alarms a deploy watches (5XX, p99): any of them in ALARM fails the deploy."
  value       = [aws_cloudwatch_metric_alarm.target_5xx.alarm_name, aws_cloudwatch_metric_alarm.p99.alarm_name]
}

output "alarm_names" {
  description = "Every alarm of the environment."
  value = concat(
    [aws_cloudwatch_metric_alarm.target_5xx.alarm_name, aws_cloudwatch_metric_alarm.p99.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.cpu : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.memory : a.alarm_name],
    aws_cloudwatch_metric_alarm.db_connections[*].alarm_name,
  )
}

output "dashboard_name" {
  description = "The CloudWatch dashboard, or null."
  value       = one(aws_cloudwatch_dashboard.this[*].dashboard_name)
}

output "budget_name" {
  description = "The monthly budget, or null."
  value       = one(aws_budgets_budget.monthly[*].name)
}
