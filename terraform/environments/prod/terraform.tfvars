# Production: the seed's sizes. Blue and green services (canary deploys), 3-10 tasks,
# Multi-AZ PostgreSQL with 30 days of backups.
service             = "task-api"
environment         = "prod"
region              = "us-east-1"
allowed_account_ids = ["210987654321"]

vpc_cidr           = "10.20.0.0/16"
az_count           = 3
nat_gateway_per_az = true

# Set the ACM certificate of the service's domain to serve HTTPS on 443 (80 then redirects).
certificate_arn         = null
alb_deletion_protection = true

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

log_retention_days = 90
monthly_budget_usd = 1500
