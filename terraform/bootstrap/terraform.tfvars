# The staging account's state backend; copy per account.
region              = "us-east-1"
allowed_account_ids = ["123456789012"]
bucket_name         = "task-api-123456789012-terraform-state"
lock_table_name     = "task-api-terraform-locks"
