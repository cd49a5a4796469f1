"""The submission service's use cases: each takes a session, applies the domain rules, writes
the change and its events in one transaction."""
