"""The wall: the websocket hub (:mod:`wall.hub`) and the Panel screens that read from it."""
