"""The Order Desk simulator: what callers outside this package use.

The modules below it depend one way: ``simulator`` builds its app from the ``api`` and
``control`` blueprints, which declare the protocols they need instead of importing it; ``store``,
``limits`` and ``webhook`` know nothing of HTTP serving. Modules of this package import each other
directly, never this front door.
"""

from bridge.sim.orderdesk.control import OrderDeskSimulatorClient
from bridge.sim.orderdesk.simulator import OrderDeskSimulator, RequestRecord
from bridge.sim.orderdesk.store import DEFAULT_FOLDERS, ApiError, NotFound
from bridge.sim.orderdesk.webhook import WebhookAttempt, sign_order

__all__ = [
    "DEFAULT_FOLDERS",
    "ApiError",
    "NotFound",
    "OrderDeskSimulator",
    "OrderDeskSimulatorClient",
    "RequestRecord",
    "WebhookAttempt",
    "sign_order",
]
