"""Scoring service: per-union counters in Redis, rolled up the hierarchy, real-time queries."""
