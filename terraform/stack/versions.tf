terraform {
  required_version = ">= 1.9.0" # variable validations that read other variables (certificate_arn in prod)

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "5.100.0"
    }
  }

  # Partial configuration: bucket, key, region and lock table come from the environment's
  # environments/<env>/backend.hcl (`pipeline-py terraform init --env <env>` passes it).
  backend "s3" {}
}
