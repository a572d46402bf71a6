# terraform test (>= 1.7, mocked provider): subnets, NAT gateways and routes per AZ.
mock_provider "aws" {
  override_data {
    target = data.aws_availability_zones.available
    values = { names = ["us-east-1a", "us-east-1b", "us-east-1c"] }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/svc-test-vpc-flow-logs" }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:us-east-1:123456789012:log-group:/vpc/svc-test/flow-logs" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
}

variables {
  name = "svc-test"
}

run "one_nat_gateway_per_az" {
  variables {
    az_count = 3
  }
  assert {
    condition     = length(aws_nat_gateway.this) == 3 && length(aws_subnet.private) == 3 && length(aws_subnet.public) == 3
    error_message = "Three AZs: three public and private subnets and a NAT gateway in each."
  }
  assert {
    condition     = tolist([for r in aws_route.private_nat : r.nat_gateway_id]) == tolist(aws_nat_gateway.this[*].id)
    error_message = "Each private subnet leaves through the NAT gateway of its own AZ."
  }
  assert {
    condition     = tolist([for s in aws_subnet.private : s.availability_zone]) == tolist(["us-east-1a", "us-east-1b", "us-east-1c"])
    error_message = "Private subnets are spread over the AZs."
  }
  assert {
    condition     = length(aws_flow_log.this) == 1 && aws_flow_log.this[0].traffic_type == "ALL"
    error_message = "Flow logs capture all traffic."
  }
}

run "single_nat_gateway_when_asked" {
  variables {
    nat_gateway_per_az = false
  }
  assert {
    condition     = length(aws_nat_gateway.this) == 1 && length(distinct([for r in aws_route.private_nat : r.nat_gateway_id])) == 1
    error_message = "One shared NAT gateway for every private route table."
  }
}

run "one_az_is_refused" {
  command = plan
  variables {
    az_count = 1
  }
  expect_failures = [var.az_count]
}
