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

run "routing_rule_carries_the_weights_on_a_shared_listener" {
  variables {
    routing_rule = { host_headers = ["api.example.com"], priority = 10 }
  }
  assert {
    condition     = aws_lb_listener.production.default_action[0].type == "fixed-response"
    error_message = "Unmatched requests get a 404 when production goes through a rule."
  }
  assert {
    condition     = aws_lb_listener_rule.production[0].priority == 10 && output.production_rule_arn == aws_lb_listener_rule.production[0].arn
    error_message = "The rule exists and is exported for the pipeline."
  }
}
