"""The HTTP gateway: every feed of the street enters GridWall here.

Modules, one job each: :mod:`.app` (factory and wiring), :mod:`.pipeline` (the path of every
write), :mod:`.cases`, :mod:`.sensors`, :mod:`.departments`, :mod:`.open311` (the feeds),
:mod:`.payloads` (decoding), :mod:`.placement` (geocoding), :mod:`.auth`, :mod:`.body`
(bounded reads), :mod:`.dedup`, :mod:`.producer` (acknowledged produce), :mod:`.deadletter`,
:mod:`.case_view` (Open311's read side), :mod:`.metrics`, :mod:`.health`, :mod:`.openapi`.
"""
