"""The CI API of the release dashboard under /api/v1/releases/."""
