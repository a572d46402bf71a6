# Shared mocks for the alb module's terraform tests (mock_provider "aws" { source = "./tests/mocks" }).
mock_resource "aws_lb" {
  defaults = { arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/svc-test/0123456789abcdef" }
}
mock_resource "aws_lb_listener" {
  defaults = { arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/svc-test/0123456789abcdef/0123456789abcdef" }
}
override_resource {
  target = aws_lb_target_group.this["blue"]
  values = { arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/svc-test-blue/0123456789abcdef" }
}
override_resource {
  target = aws_lb_target_group.this["green"]
  values = { arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/svc-test-green/0123456789abcdef" }
}
mock_data "aws_caller_identity" {
  defaults = { account_id = "123456789012" }
}
mock_data "aws_elb_service_account" {
  defaults = { arn = "arn:aws:iam::127311923021:root" }
}
mock_data "aws_iam_policy_document" {
  defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
}
