"""Contracts declared once: the vocabulary, the command kinds and the wall channels.

Every other module derives its literal types, label tables, validation and weights from
these records instead of keeping its own copy; ``docs/extending.md`` says which record to add
for a new sensor kind, case category, wall panel or department feed.
"""
