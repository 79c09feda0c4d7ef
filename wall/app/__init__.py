"""The wall's Panel app: big screen (``/wall``), duty console (``/duty``), ops console (``/ops``).

Pure modules (no Panel, no I/O) hold the view model: :mod:`~wall.app.store` (the state the
hub's deltas build), :mod:`~wall.app.kpis`, :mod:`~wall.app.boards`, :mod:`~wall.app.queue`,
:mod:`~wall.app.opsview`, :mod:`~wall.app.mapdata`, :mod:`~wall.app.freshness` and
:mod:`~wall.app.i18n`. The I/O lives in :mod:`~wall.app.hydrate` (ClickHouse) and
:mod:`~wall.app.feed` (one hub connection per server); the pages in ``*_page`` modules.
"""
