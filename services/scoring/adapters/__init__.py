"""The scoring service's adapters: the Lua counter step in Redis, the Kafka consumer."""
