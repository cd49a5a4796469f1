"""The notifier's HTTP routes."""
