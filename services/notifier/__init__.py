"""Notifier: lag alerts to union heads by email, webhook and Kafka."""
