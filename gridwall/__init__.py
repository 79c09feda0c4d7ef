"""GridWall's command line: ``gridwall <command>`` runs one process (:mod:`gridwall.cli`,
:mod:`gridwall.commands`). The base modules the processes share are :mod:`core`."""
