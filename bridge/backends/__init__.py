"""Pluggable warehouse backends: the interface (``base``), normalised data (``models``), errors,
the entry-point ``registry``, and the first-party ``shipstation`` and ``simulated`` backends."""
