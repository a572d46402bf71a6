# S3 state with DynamoDB locking (created by terraform/bootstrap in the prod account).
bucket         = "task-api-210987654321-terraform-state"
key            = "task-api/prod/terraform.tfstate"
region         = "us-east-1"
dynamodb_table = "task-api-terraform-locks"
encrypt        = true
