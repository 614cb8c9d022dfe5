"""Project-wide pieces: roles, health and version endpoints, logging."""
