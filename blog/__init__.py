"""The blog: posts, their editorial workflow, comments, the public site and API."""
