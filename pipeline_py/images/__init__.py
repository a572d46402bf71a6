"""Images: tags from git/Jenkins, build on the Docker engine, ECR login and push, last build/push state."""
