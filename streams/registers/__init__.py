"""Per-grid registers kept current from department records (pure); see :mod:`.book`."""
