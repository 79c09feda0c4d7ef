"""Lifecycle of the real parts (local Kafka and ClickHouse), migrations and topics."""
