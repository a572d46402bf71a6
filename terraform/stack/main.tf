# The service's stack, one root module for every environment. An environment is data only:
# environments/<env>/terraform.tfvars (sizes, account guard) and environments/<env>/backend.hcl
# (its state). pipeline-py runs terraform here with `-chdir`, the environment's TF_DATA_DIR,
# -backend-config and -var-file (docs/terraform.md).

locals {
  name = "${var.service}-${var.environment}"
  tags = merge(var.extra_tags, {
    Service     = var.service
    Environment = var.environment
    ManagedBy   = "terraform"
  })
}

provider "aws" {
  region              = var.region
  allowed_account_ids = var.allowed_account_ids

  default_tags {
    tags = local.tags
  }

  # Deploys keep their bookkeeping in tags on the services (pipeline-py:task-definition,
  # pipeline-py:previous-task-definition, pipeline-py:rollout*): terraform leaves them alone.
  ignore_tags {
    key_prefixes = ["pipeline-py:"]
  }
}

module "network" {
  source = "../modules/network"

  name               = local.name
  cidr_block         = var.vpc_cidr
  az_count           = var.az_count
  nat_gateway_per_az = var.nat_gateway_per_az
  flow_logs_enabled  = var.flow_logs_enabled
}

module "security_groups" {
  source = "../modules/security-groups"

  name                        = local.name
  vpc_id                      = module.network.vpc_id
  app_port                    = var.container_port
  https_enabled               = var.certificate_arn != null
  test_listener_port          = var.test_listener_port
  test_listener_ingress_cidrs = var.test_listener_ingress_cidrs
}

module "alb" {
  source = "../modules/alb"

  name                = local.name
  vpc_id              = module.network.vpc_id
  subnet_ids          = module.network.public_subnet_ids
  security_group_ids  = [module.security_groups.alb_security_group_id]
  app_port            = var.container_port
  health_check        = { path = var.health_check_path }
  certificate_arn     = var.certificate_arn
  test_listener_port  = var.test_listener_port
  deletion_protection = var.alb_deletion_protection
  access_logs         = var.alb_access_logs
  waf_web_acl_arn     = var.waf_web_acl_arn
}

module "ecr" {
  source = "../modules/ecr"

  name = var.service
}

module "rds" {
  source = "../modules/rds"
  count  = var.db_enabled ? 1 : 0

  name                  = local.name
  subnet_ids            = module.network.private_subnet_ids
  security_group_ids    = [module.security_groups.rds_security_group_id]
  instance_class        = var.db_instance_class
  engine_version        = var.db_engine_version
  multi_az              = var.db_multi_az
  backup_retention_days = var.db_backup_retention_days
  deletion_protection   = var.db_deletion_protection
  db_name               = var.db_name
  username              = var.db_username

  performance_insights_enabled = var.db_performance_insights_enabled
  monitoring_interval          = var.db_monitoring_interval
}

locals {
  db             = one(module.rds)
  db_secret_arns = local.db == null ? [] : compact([local.db.master_user_secret_arn])
}

module "ecs_service" {
  source = "../modules/ecs-service"

  name               = local.name
  container_image    = "${module.ecr.repository_url}:${var.bootstrap_image_tag}"
  container_port     = var.container_port
  cpu                = var.task_cpu
  memory             = var.task_memory
  colours            = var.colours
  subnet_ids         = module.network.private_subnet_ids
  security_group_ids = [module.security_groups.ecs_security_group_id]
  target_group_arns  = module.alb.target_group_arns
  desired_count      = var.desired_count

  # ECS-native blue/green, linear and canary (pipeline-py's ecs-* strategies) on the primary service
  native = {
    enabled                 = var.native_enabled
    vpc_id                  = module.network.vpc_id
    production_listener_arn = module.alb.production_listener_arn
    test_listener_arn       = module.alb.test_listener_arn
    health_check_path       = var.health_check_path
  }
  log_retention_days = var.log_retention_days

  autoscaling = {
    enabled      = var.autoscaling_enabled
    min_capacity = var.autoscaling_min
    max_capacity = var.autoscaling_max
  }

  ecr_repository_arns   = [module.ecr.repository_arn]
  execution_secret_arns = local.db_secret_arns
  secrets_kms_key_arns  = local.db == null ? [] : [local.db.kms_key_arn]

  container_environment = local.db == null ? {} : {
    DB_HOST = local.db.address
    DB_PORT = tostring(local.db.port)
    DB_NAME = local.db.db_name
  }
  container_secrets = local.db == null ? {} : {
    DB_USERNAME = "${local.db.master_user_secret_arn}:username::"
    DB_PASSWORD = "${local.db.master_user_secret_arn}:password::"
  }
}

module "monitoring" {
  source = "../modules/monitoring"

  name                   = local.name
  alb_arn_suffix         = module.alb.alb_arn_suffix
  cluster_name           = module.ecs_service.cluster_name
  service_names          = module.ecs_service.service_names
  db_instance_identifier = local.db == null ? null : local.db.db_instance_identifier
  alarm_emails           = var.alarm_emails
  thresholds             = { db_connections = var.db_connections_alarm_threshold }

  budget = var.monthly_budget_usd == null ? null : {
    limit_usd = var.monthly_budget_usd
    emails    = var.budget_emails
  }
}
