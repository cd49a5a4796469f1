"""The submission service's rules, as pure functions and small classes: no I/O here."""
