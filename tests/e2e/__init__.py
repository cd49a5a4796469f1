"""End-to-end tests: whole services and commands as processes (a package, so that its module
names do not clash with the unit tests' of the same name)."""
