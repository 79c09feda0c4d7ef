"""The read side: every query GridWall runs against ClickHouse, one module per read model.

- :mod:`readside.cases` -- current case state for Open311 reads (the gateway's case view);
- :mod:`readside.wall_state` -- the wall's hydration: open and today's cases and alerts;
- :mod:`readside.audits` -- case timelines, alert actions and live config changes;
- :mod:`readside.units` -- each unit's open load and on-time record (routing's inputs);
- :mod:`readside.tiers` -- cases closed per grid and tier since a time (resolution levels).

:mod:`readside.connection` opens the clients. The services (``ingest``, ``streams``,
``wall``) import this package; it imports only :mod:`domain` and GridWall's settings and
client options, never a service. Writes are not here: the streams' sink inserts and the
migrations own them.
"""
