output "alb_arn" {
  description = "The load balancer."
  value       = aws_lb.this.arn
}

output "alb_arn_suffix" {
  description = "The LoadBalancer dimension of the ALB's CloudWatch metrics."
  value       = aws_lb.this.arn_suffix
}

output "alb_dns_name" {
  description = "DNS name to point the service's record at."
  value       = aws_lb.this.dns_name
}

output "alb_zone_id" {
  description = "Hosted zone of the ALB (for Route 53 alias records)."
  value       = aws_lb.this.zone_id
}

# The target groups are handed out only once a listener references them: ECS refuses to create a
# service whose target group is not attached to a load balancer yet.
output "target_group_arns" {
  description = "Target group ARN per colour."
  value       = { for colour, tg in aws_lb_target_group.this : colour => tg.arn }
  depends_on  = [aws_lb_listener.production, aws_lb_listener.test, aws_lb_listener_rule.production]
}

output "target_group_arn_suffixes" {
  description = "TargetGroup dimension per colour."
  value       = { for colour, tg in aws_lb_target_group.this : colour => tg.arn_suffix }
}

output "target_group_names" {
  description = "Target group name per colour."
  value       = { for colour, tg in aws_lb_target_group.this : colour => tg.name }
}

output "production_listener_arn" {
  description = "The weighted production listener."
  value       = aws_lb_listener.production.arn
}

output "production_rule_arn" {
  description = "The weighted production rule when routing_rule is set, else null (the listener's default action carries the weights)."
  value       = one(aws_lb_listener_rule.production[*].arn)
}

output "test_listener_arn" {
  description = "The test listener (forwards to the idle colour)."
  value       = aws_lb_listener.test.arn
}

output "http_redirect_listener_arn" {
  description = "Port 80 redirect listener, when a certificate is configured."
  value       = one(aws_lb_listener.http_redirect[*].arn)
}

output "access_logs_bucket" {
  description = "Bucket the access logs go to (created or given), or null when they are off."
  value       = local.logs_bucket
}
