"""What every service of the sáng kiến system imports: the event contract, settings, clock,
logging, and the Kafka and Redis helpers."""
