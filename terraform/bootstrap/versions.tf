terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "5.100.0"
    }
  }

  # Local state on the first apply (the bucket does not exist yet). Afterwards move it into the
  # bucket it created: add `backend "s3" {}` here and run
  # `terraform init -migrate-state -backend-config=backend.hcl` (docs/terraform.md).
}
