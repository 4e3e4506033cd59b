"""Pluggable warehouse backends: the interface (``base``), normalised data (``models``), errors,
the entry-point ``registry``, the conformance kit (``testing``), and the first-party
``shipstation``, ``shipbob``, ``file_drop`` and ``simulated`` backends."""
