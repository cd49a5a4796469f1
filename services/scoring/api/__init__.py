"""The scoring service's HTTP API."""
