"""An example third-party warehouse backend for orderdesk-bridge (see README.md)."""
