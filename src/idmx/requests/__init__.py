"""Data requests: the standing public channel for asking for data or reporting a problem with published data."""
