# Production: the seed's sizes. Blue and green services (canary deploys), 3-10 tasks,
# Multi-AZ PostgreSQL with 30 days of backups.
service             = "task-api"
environment         = "prod"
region              = "us-east-1"
allowed_account_ids = ["210987654321"]

vpc_cidr           = "10.20.0.0/16"
az_count           = 3
nat_gateway_per_az = true

# The ACM certificate of the service's domain: production is HTTPS on 443 and 80 only redirects to
# it (prod refuses a plan without one). Access logs go to <service>-prod-alb-logs-<account>.
certificate_arn         = "arn:aws:acm:us-east-1:210987654321:certificate/2f3c4d5e-6a7b-4c8d-9e0f-1a2b3c4d5e6f"
alb_deletion_protection = true
alb_access_logs         = { enabled = true, retention_days = 365 }
# waf_web_acl_arn       = "arn:aws:wafv2:us-east-1:210987654321:regional/webacl/<name>/<id>"

task_cpu        = 512
task_memory     = 1024
colours         = ["blue", "green"]
desired_count   = 3
autoscaling_min = 3
autoscaling_max = 10

db_instance_class              = "db.t3.small"
db_multi_az                    = true
db_backup_retention_days       = 30
db_connections_alarm_threshold = 150

db_performance_insights_enabled = true
db_monitoring_interval          = 60

log_retention_days = 90
monthly_budget_usd = 1500
