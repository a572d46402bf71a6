# terraform test (>= 1.7, mocked provider): the seed's tables, row by row.
mock_provider "aws" {}

variables {
  name   = "svc-test"
  vpc_id = "vpc-0123456789abcdef0"
}

run "internet_alb_ecs_rds_chain" {
  assert {
    condition     = sort([for r in aws_vpc_security_group_ingress_rule.alb_from_internet : tostring(r.from_port)]) == sort(["80", "443"])
    error_message = "Internet -> ALB on 80 and 443."
  }
  assert {
    condition     = aws_vpc_security_group_ingress_rule.ecs_from_alb.from_port == 8080 && aws_vpc_security_group_ingress_rule.ecs_from_alb.referenced_security_group_id == aws_security_group.alb.id
    error_message = "ALB -> ECS on 8080 only."
  }
  assert {
    condition     = aws_vpc_security_group_ingress_rule.rds_from_ecs.from_port == 5432 && aws_vpc_security_group_ingress_rule.rds_from_ecs.referenced_security_group_id == aws_security_group.ecs.id
    error_message = "ECS -> RDS on 5432 only."
  }
  assert {
    condition     = length(aws_vpc_security_group_ingress_rule.alb_test_listener) == 0
    error_message = "The test listener is closed unless CIDRs are given."
  }
}

run "plain_http_and_an_open_test_listener" {
  variables {
    https_enabled               = false
    test_listener_ingress_cidrs = ["10.99.0.0/16"]
  }
  assert {
    condition     = tolist([for r in aws_vpc_security_group_ingress_rule.alb_from_internet : r.from_port]) == tolist([80])
    error_message = "Without HTTPS only 80 is open."
  }
  assert {
    condition     = aws_vpc_security_group_ingress_rule.alb_test_listener["10.99.0.0/16"].from_port == 8443
    error_message = "The test listener opens to the given CIDR only."
  }
}
