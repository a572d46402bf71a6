terraform {
  required_version = ">= 1.5.0"

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
