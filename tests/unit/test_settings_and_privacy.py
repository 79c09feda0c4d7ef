"""Settings parse typed values and name bad variables; personal data masks keep little."""

from __future__ import annotations

import pytest

from core.settings import SettingsError, settings_from
from domain.privacy import mask_id_number, mask_name, mask_phone


def test_defaults_are_loopback() -> None:
    s = settings_from({})
    assert s.kafka_host == "127.0.0.1" and s.kafka_port == 9092
    for host in (s.clickhouse_host, s.gateway_host, s.hub_host, s.wall_host):
        assert host == "127.0.0.1"


def test_typed_values() -> None:
    s = settings_from({"GRIDWALL_GATEWAY_PORT": "9090", "GRIDWALL_TOPIC_PREFIX": "x.",
                       "PATH": "/bin"})
    assert s.gateway_port == 9090 and s.topic_prefix == "x."


@pytest.mark.parametrize(("env", "message"), [
    ({"GRIDWALL_GATEWAY_PORT": "eighty"}, "GRIDWALL_GATEWAY_PORT: Expected `int`"),
    ({"GRIDWALL_HUB_PORT": "70000"}, "GRIDWALL_HUB_PORT: not a TCP port"),
    ({"GRIDWALL_TOPIC_PARTITIONS": "0"}, "GRIDWALL_TOPIC_PARTITIONS: must be positive"),
    ({"GRIDWALL_KAFKA_BOOTSTRAPP": "x"}, "GRIDWALL_KAFKA_BOOTSTRAPP: unknown setting"),
])
def test_bad_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as info:
        settings_from(env)
    assert str(info.value).startswith(message)


def test_masks() -> None:
    assert mask_name("张三丰") == "张**"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_id_number("370102199001011234") == "3701************34"
    assert mask_phone(None) is None and mask_name("") == ""
    assert mask_phone("12345") == "*****"
