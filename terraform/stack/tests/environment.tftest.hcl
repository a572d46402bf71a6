# terraform test (mocked provider, no AWS): the root module planned with an environment's
# terraform.tfvars, e.g. `terraform test -var-file=../environments/prod/terraform.tfvars`
# (tests/integration/test_terraform_validate.py runs it for every environment).
mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_region" {
    defaults = { name = "us-east-1" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_availability_zones" {
    defaults = { names = ["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d"] }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
}

run "the_environment_plans" {
  command = plan

  assert {
    condition     = output.cluster_name == "${var.service}-${var.environment}"
    error_message = "Cluster named <service>-<environment>."
  }
  assert {
    condition     = length(module.network.private_subnet_ids) == var.az_count
    error_message = "One private subnet per AZ."
  }
  assert {
    condition     = sort(keys(output.service_names)) == sort(var.colours)
    error_message = "One service per colour."
  }
  assert {
    condition     = output.deploy_alarm_names == ["${var.service}-${var.environment}-5xx", "${var.service}-${var.environment}-p99"]
    error_message = "The deploy watches the 5XX and p99 alarms."
  }
}

# Production is HTTPS only: a prod plan without a certificate is refused (whichever environment's
# tfvars the test runs with).
run "prod_without_a_certificate_is_refused" {
  command = plan

  variables {
    environment     = "prod"
    certificate_arn = null
  }
  expect_failures = [var.certificate_arn]
}
