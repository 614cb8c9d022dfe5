"""Outbound notifications: signed webhooks, chat, email and GitLab write-back."""
