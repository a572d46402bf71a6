# Staging: the seed's small sizes. One colour, rolling deploys, one task.
service             = "task-api"
environment         = "staging"
region              = "us-east-1"
allowed_account_ids = ["123456789012"]

vpc_cidr           = "10.10.0.0/16"
az_count           = 2
nat_gateway_per_az = true

certificate_arn         = null
alb_deletion_protection = true
alb_access_logs         = { enabled = true, retention_days = 30 }

task_cpu        = 256
task_memory     = 512
colours         = ["blue"]
native_enabled  = true # ECS-native blue/green, linear and canary on the one service (pipeline-py's ecs-*)
desired_count   = 1
autoscaling_min = 1
autoscaling_max = 2

db_instance_class              = "db.t3.micro"
db_multi_az                    = false
db_backup_retention_days       = 7
db_connections_alarm_threshold = 70

monthly_budget_usd = 300
