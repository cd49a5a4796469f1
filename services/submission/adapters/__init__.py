"""The submission service's adapters: SQL tables and queries, the outbox relay, spreadsheets."""
