"""The release dashboard: builds, environments, deployments and the CI API."""
