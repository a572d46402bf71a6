"""The local stack: a moto server with fidelity extensions, the ECS rollout simulator, the
traffic model, and (when a Docker engine answers) a real registry standing in for ECR."""
