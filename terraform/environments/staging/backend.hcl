# S3 state with DynamoDB locking (created by terraform/bootstrap).
bucket         = "task-api-123456789012-terraform-state"
key            = "task-api/staging/terraform.tfstate"
region         = "us-east-1"
dynamodb_table = "task-api-terraform-locks"
encrypt        = true
