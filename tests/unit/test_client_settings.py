"""Credentials, TLS and replication settings reach the client constructors."""

from __future__ import annotations

import ssl
from typing import Any

import faust
import pytest

from core import clients
from core.settings import Settings, SettingsError, settings_from
from domain.contracts import topics as catalog
from infra import topics

SECURE_CH = {"GRIDWALL_CLICKHOUSE_USER": "gridwall", "GRIDWALL_CLICKHOUSE_PASSWORD": "pw",
             "GRIDWALL_CLICKHOUSE_SECURE": "true", "GRIDWALL_CLICKHOUSE_VERIFY": "false",
             "GRIDWALL_CLICKHOUSE_CA_CERTS": "/etc/ca.pem",
             "GRIDWALL_CLICKHOUSE_HOST": "ch1", "GRIDWALL_CLICKHOUSE_PORT": "9440"}
SASL = {"GRIDWALL_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "GRIDWALL_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "GRIDWALL_KAFKA_USERNAME": "gw", "GRIDWALL_KAFKA_PASSWORD": "secret"}


class Recorder:
    """Stands in for a client class: keeps the arguments it was built with."""

    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        Recorder.calls.append((args, kwargs))


def test_clickhouse_client_gets_user_password_and_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    import clickhouse_driver

    Recorder.calls = []
    monkeypatch.setattr(clickhouse_driver, "Client", Recorder)
    clients.clickhouse_client(settings_from(SECURE_CH), database="db", connect_timeout=2)
    args, kwargs = Recorder.calls[0]
    assert args == ("ch1",)
    assert kwargs == {"port": 9440, "user": "gridwall", "password": "pw", "secure": True,
                      "verify": False, "ca_certs": "/etc/ca.pem", "database": "db",
                      "connect_timeout": 2}


def test_default_clickhouse_options_are_the_drivers_own_defaults() -> None:
    assert clients.clickhouse_options(Settings()) == {"user": "default", "password": ""}


def test_kafka_python_options_carry_sasl_and_the_ca_file() -> None:
    s = settings_from({**SASL, "GRIDWALL_KAFKA_SSL_CAFILE": "/etc/kafka-ca.pem"})
    assert clients.kafka_client_options(s) == {
        "security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "gw", "sasl_plain_password": "secret",
        "ssl_cafile": "/etc/kafka-ca.pem"}
    assert clients.kafka_client_options(Settings()) == {"security_protocol": "PLAINTEXT"}


def test_aiokafka_options_carry_an_ssl_context() -> None:
    options = clients.aiokafka_client_options(settings_from(SASL))
    assert options["sasl_plain_username"] == "gw"
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    assert "ssl_context" not in clients.aiokafka_client_options(Settings())


def test_faust_credentials_follow_the_protocol() -> None:
    sasl = clients.faust_broker_credentials(settings_from(SASL))
    assert isinstance(sasl, faust.SASLCredentials)
    assert (sasl.username, sasl.password) == ("gw", "secret")
    assert isinstance(clients.faust_broker_credentials(
        settings_from({"GRIDWALL_KAFKA_SECURITY_PROTOCOL": "SSL"})), faust.SSLCredentials)
    assert clients.faust_broker_credentials(Settings()) is None


def test_sasl_without_a_mechanism_or_user_is_refused_at_start() -> None:
    with pytest.raises(SettingsError, match="KAFKA_SASL_MECHANISM"):
        settings_from({"GRIDWALL_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT"})
    with pytest.raises(SettingsError, match="KAFKA_USERNAME"):
        settings_from({"GRIDWALL_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                       "GRIDWALL_KAFKA_SASL_MECHANISM": "PLAIN"})
    with pytest.raises(SettingsError, match="KAFKA_SECURITY_PROTOCOL"):
        settings_from({"GRIDWALL_KAFKA_SECURITY_PROTOCOL": "TLS"})


def test_topics_get_the_replication_factor_and_min_insync() -> None:
    s = settings_from({"GRIDWALL_TOPIC_REPLICATION_FACTOR": "3",
                       "GRIDWALL_TOPIC_MIN_INSYNC_REPLICAS": "2"})
    new = topics._new_topic(catalog.CONTROL, s)
    assert new.replication_factor == 3
    assert new.topic_configs["min.insync.replicas"] == "2"
    assert new.topic_configs["cleanup.policy"] == "compact"
    assert topics._new_topic(catalog.ALERTS, Settings()).replication_factor == 1


def test_min_insync_above_the_replication_factor_is_refused() -> None:
    with pytest.raises(SettingsError, match="MIN_INSYNC"):
        settings_from({"GRIDWALL_TOPIC_MIN_INSYNC_REPLICAS": "2"})


def test_the_topics_admin_client_gets_the_kafka_security(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    Recorder.calls = []
    monkeypatch.setattr(topics, "KafkaAdminClient", Recorder)
    topics._admin(settings_from(SASL))
    assert Recorder.calls[0][1]["sasl_plain_password"] == "secret"
    assert Recorder.calls[0][1]["security_protocol"] == "SASL_SSL"
