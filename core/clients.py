"""Client options from settings: one place that turns credentials and TLS into constructor
arguments, so every ClickHouse and Kafka client of a process connects the same way.

- :func:`clickhouse_client` builds a ``clickhouse_driver.Client`` with the configured host,
  port, user, password and TLS (``secure``, ``verify``, ``ca_certs``).
- :func:`kafka_client_options` is the keyword arguments for kafka-python's clients
  (``KafkaProducer``, ``KafkaConsumer``, ``KafkaAdminClient``);
  :func:`aiokafka_client_options` the same for aiokafka's (an ``ssl_context`` instead of a
  CA file); :func:`faust_broker_credentials` the ``broker_credentials`` of a Faust app.

With the defaults (PLAINTEXT, user ``default`` without password, no TLS) the options are
what the clients assume anyway, so a one-machine setup is unchanged.
"""

from __future__ import annotations

import ssl
from typing import Any

from core.settings import Settings


def clickhouse_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``clickhouse_driver.Client`` besides host and port."""
    options: dict[str, Any] = {"user": settings.clickhouse_user,
                               "password": settings.clickhouse_password}
    if settings.clickhouse_secure:
        options.update(secure=True, verify=settings.clickhouse_verify)
        if settings.clickhouse_ca_certs:
            options["ca_certs"] = settings.clickhouse_ca_certs
    return options


def clickhouse_client(settings: Settings, **extra: Any) -> Any:
    """A ``clickhouse_driver.Client`` for the configured server; ``extra`` adds options
    (``database``, ``connect_timeout``, ``settings``...)."""
    from clickhouse_driver import Client

    return Client(settings.clickhouse_host, port=settings.clickhouse_port,
                  **clickhouse_options(settings), **extra)


def _sasl_options(settings: Settings) -> dict[str, Any]:
    if not settings.kafka_security_protocol.startswith("SASL_"):
        return {}
    return {"sasl_mechanism": settings.kafka_sasl_mechanism,
            "sasl_plain_username": settings.kafka_username,
            "sasl_plain_password": settings.kafka_password}


def _uses_tls(settings: Settings) -> bool:
    return settings.kafka_security_protocol in ("SSL", "SASL_SSL")


def kafka_client_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for a kafka-python client besides ``bootstrap_servers``."""
    options: dict[str, Any] = {"security_protocol": settings.kafka_security_protocol,
                               **_sasl_options(settings)}
    if _uses_tls(settings) and settings.kafka_ssl_cafile:
        options["ssl_cafile"] = settings.kafka_ssl_cafile
    return options


def kafka_ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context for Kafka (the configured CA, or the system's), None without TLS."""
    if not _uses_tls(settings):
        return None
    return ssl.create_default_context(cafile=settings.kafka_ssl_cafile or None)


def aiokafka_client_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for an aiokafka client besides ``bootstrap_servers``."""
    options: dict[str, Any] = {"security_protocol": settings.kafka_security_protocol,
                               **_sasl_options(settings)}
    context = kafka_ssl_context(settings)
    if context is not None:
        options["ssl_context"] = context
    return options


def faust_broker_credentials(settings: Settings) -> Any:
    """``broker_credentials`` for ``faust.App``: SASL or TLS credentials, None for PLAINTEXT."""
    import faust

    context = kafka_ssl_context(settings)
    if settings.kafka_security_protocol.startswith("SASL_"):
        return faust.SASLCredentials(username=settings.kafka_username,
                                     password=settings.kafka_password, ssl_context=context,
                                     mechanism=settings.kafka_sasl_mechanism)
    if context is not None:
        return faust.SSLCredentials(context)
    return None
