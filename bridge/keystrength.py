"""What makes a ``BRIDGE_SECRET_KEY`` strong enough to encrypt the stored API keys.

The key is stretched with HKDF, which adds no entropy: a short or patterned key can be guessed
offline from a copy of the database. The rule, for the first key of the list (the one that
encrypts): at least 32 characters, at least two kinds of character (lower case, upper case,
digits, others), at least 10 different characters, and none of the placeholder words of example
files. ``bridge secret-key`` prints a key that passes. Older keys after the first are only read,
so a weak one may stay there until ``bridge secret-key rotate`` has moved everything off it.
"""

from __future__ import annotations

MIN_LENGTH = 32
MIN_CLASSES = 2
MIN_DISTINCT = 10
PLACEHOLDERS = ("change", "example", "placeholder", "replace", "your-secret")


def split_keys(material: str) -> list[str]:
    """The comma-separated key list, newest (encrypting) first, blanks dropped."""
    return [part.strip() for part in material.split(",") if part.strip()]


def _classes(key: str) -> int:
    kinds = (str.islower, str.isupper, str.isdigit)
    found = {kind for char in key for kind in kinds if kind(char)}
    others = any(not (c.islower() or c.isupper() or c.isdigit()) for c in key)
    return len(found) + int(others)


def weakness(key: str) -> str | None:
    """Why ``key`` is too weak to encrypt with, in words that never repeat the key; else None."""
    if len(key) < MIN_LENGTH:
        return f"too short ({len(key)} characters; at least {MIN_LENGTH})"
    if _classes(key) < MIN_CLASSES:
        return "made of one kind of character only (mix letters, digits or symbols)"
    if len(set(key)) < MIN_DISTINCT:
        return f"too repetitive (fewer than {MIN_DISTINCT} different characters)"
    lowered = key.lower()
    if any(word in lowered for word in PLACEHOLDERS):
        return "a placeholder from an example file, not a random key"
    return None


def ring_problem(material: str) -> str | None:
    """Why the configured key list cannot be used to encrypt, or None when it can."""
    keys = split_keys(material)
    if not keys:
        return "no key in the list"
    problem = weakness(keys[0])
    if problem:
        return f"the first key is {problem}; `bridge secret-key` prints a strong one"
    return None
