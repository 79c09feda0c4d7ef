"""Open311 GeoReport v2 on top of the gateway: services, request posts and status reads.

JSON only (``.json`` paths). Errors use GeoReport's array form
``[{"code": status, "description": ...}]``, each element also naming ``field`` and ``reason``.
"""
