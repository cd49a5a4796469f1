"""The scoring service's pure rules: what the counters must equal."""
