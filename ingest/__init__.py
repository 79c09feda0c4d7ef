"""Everything that enters GridWall: the HTTP gateway, the department importer, the simulator."""
