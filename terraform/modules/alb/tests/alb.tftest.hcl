# terraform test (>= 1.7, mocked provider: no AWS calls). One file per shape: runs in a file
# share state, and the listeners ignore later changes to their actions (the pipeline owns them).
mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  name               = "svc-test"
  vpc_id             = "vpc-0123456789abcdef0"
  subnet_ids         = ["subnet-a", "subnet-b"]
  security_group_ids = ["sg-alb"]
}

run "http_production_listener_carries_the_weights" {
  assert {
    condition     = aws_lb_listener.production.port == 80 && aws_lb_listener.production.protocol == "HTTP"
    error_message = "Without a certificate, production is HTTP on 80."
  }
  assert {
    condition     = length(aws_lb_listener.http_redirect) == 0 && length(aws_lb_listener_rule.production) == 0
    error_message = "No redirect and no rule without a certificate and a routing rule."
  }
  assert {
    condition = {
      for tg in aws_lb_listener.production.default_action[0].forward[0].target_group : tg.arn => tg.weight
      } == {
      (aws_lb_target_group.this["blue"].arn)  = 100
      (aws_lb_target_group.this["green"].arn) = 0
    }
    error_message = "Blue takes all production traffic at creation."
  }
  assert {
    condition     = aws_lb_listener.test.default_action[0].target_group_arn == aws_lb_target_group.this["green"].arn
    error_message = "The test listener forwards to the idle colour."
  }
  assert {
    condition     = alltrue([for tg in aws_lb_target_group.this : tg.health_check[0].path == "/health" && tg.target_type == "ip"])
    error_message = "Both target groups check /health on IP targets."
  }
}

run "one_subnet_is_refused" {
  command = plan
  variables {
    subnet_ids = ["subnet-a"]
  }
  expect_failures = [var.subnet_ids]
}
