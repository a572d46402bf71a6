# terraform test (>= 1.7, mocked provider: no AWS calls): production's Performance Insights and
# enhanced monitoring, and their absence by default.
mock_provider "aws" {
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
  mock_resource "aws_kms_key" {
    defaults = { arn = "arn:aws:kms:us-east-1:123456789012:key/0123abcd-0000-0000-0000-000000000000" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/svc-prod-rds-monitoring" }
  }
}

variables {
  name               = "svc-prod"
  subnet_ids         = ["subnet-a", "subnet-b"]
  security_group_ids = ["sg-rds"]
  instance_class     = "db.t3.small"
}

run "insights_and_enhanced_monitoring_off_by_default" {
  assert {
    condition     = !aws_db_instance.this.performance_insights_enabled && aws_db_instance.this.monitoring_interval == 0
    error_message = "Both are opt-in (staging does without)."
  }
  assert {
    condition     = length(aws_iam_role.monitoring) == 0 && output.monitoring_role_arn == null
    error_message = "No monitoring role without enhanced monitoring."
  }
  assert {
    condition     = aws_db_instance.this.deletion_protection && aws_db_instance.this.storage_encrypted
    error_message = "Protected and encrypted."
  }
}

run "production_turns_both_on" {
  variables {
    performance_insights_enabled = true
    monitoring_interval          = 60
  }
  assert {
    condition     = aws_db_instance.this.performance_insights_enabled && aws_db_instance.this.performance_insights_retention_period == 7
    error_message = "Performance Insights with the free 7 days."
  }
  assert {
    condition     = aws_db_instance.this.performance_insights_kms_key_id == aws_kms_key.this.arn
    error_message = "Performance Insights data is encrypted with the instance's key."
  }
  assert {
    condition     = aws_db_instance.this.monitoring_interval == 60 && aws_db_instance.this.monitoring_role_arn == aws_iam_role.monitoring[0].arn
    error_message = "Enhanced monitoring every 60 s through the module's role."
  }
  assert {
    condition     = aws_iam_role_policy_attachment.monitoring[0].policy_arn == "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
    error_message = "The role has AWS's enhanced monitoring policy."
  }
}

run "an_interval_rds_does_not_offer_is_refused" {
  command = plan
  variables {
    monitoring_interval = 45
  }
  expect_failures = [var.monitoring_interval]
}
