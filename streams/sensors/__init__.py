"""Sensor jobs (pure): policy, rolling statistics, heartbeat deadlines, detection, health, rollup.

:class:`~streams.sensors.detector.SensorDetector` takes whole
:class:`~domain.schemas.SensorBatch` messages (``update``) and a clock (``due``) and returns
alert :class:`~domain.alerts.Signal` objects only when a sensor's condition changes.
"""
