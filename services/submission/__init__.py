"""Submission service: registry of unions, campaigns and targets; initiatives; outbox relay."""
