"""GridWall: the command-line entry point and process-wide settings."""
