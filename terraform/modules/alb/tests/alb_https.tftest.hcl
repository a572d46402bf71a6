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

run "certificate_serves_https_and_redirects_http" {
  variables {
    certificate_arn     = "arn:aws:acm:us-east-1:123456789012:certificate/abc"
    initial_live_colour = "green"
  }
  assert {
    condition     = aws_lb_listener.production.port == 443 && aws_lb_listener.production.protocol == "HTTPS"
    error_message = "With a certificate, production is HTTPS on 443."
  }
  assert {
    condition     = aws_lb_listener.http_redirect[0].default_action[0].redirect[0].port == "443"
    error_message = "Port 80 redirects to 443."
  }
  assert {
    condition     = aws_lb_listener.test.protocol == "HTTPS" && aws_lb_listener.test.default_action[0].target_group_arn == aws_lb_target_group.this["blue"].arn
    error_message = "The test listener is HTTPS and forwards to the idle colour (blue when green is live)."
  }
}
