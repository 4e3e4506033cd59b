"""orderdesk-bridge: the 3PL's link between merchants' Order Desk stores and its warehouse."""

__version__ = "0.1.0"
