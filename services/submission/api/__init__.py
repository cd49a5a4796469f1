"""The submission service's HTTP API: routers, request and response schemas, errors."""
