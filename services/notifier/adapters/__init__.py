"""The notifier's outbound channels: one delivery attempt by email (SMTP) or webhook (HTTP)."""
