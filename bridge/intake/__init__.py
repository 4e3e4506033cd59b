"""Verify and record each Order Desk webhook so that no order is lost or submitted twice.

Order Desk retries any answer above 201 and merchants re-send orders by hand, so the same order
arrives many times, sometimes concurrently. The guarantee rests on PostgreSQL alone: the order is
inserted with ``ON CONFLICT DO NOTHING`` (unique on store + Order Desk id, and on the idempotency
key made of them) together with the webhook's receipt, and a request that finds the row already
there locks it and decides what the repeat means. Work for Celery is only *described*
(``IntakeResult.follow_ups``): the caller publishes it after the commit, and the sweeper covers a
publish that never happens.

``handler.handle`` is the entry point, and knows nothing of Flask: ``web/intake.py`` reads the
body and hands over an ``IntakeRequest`` (``request``), and gets an ``IntakeResult`` (``result``).
Two paths lie behind it:

* ``accept``: the busy case, the first delivery of a fulfillable order for a store this process
  has a snapshot of (``storecache``), accepted in one PostgreSQL statement;
* ``full``: everything else, in one transaction: the store read afresh, the signature checked,
  refusals throttled per client address (``refusals``), and what a signed order means decided by
  ``decision``, which ``trusted`` also runs for orders reconciliation fetched itself.

Both write the same columns (``rows``) and apply the same tests to the order (``checks``). The
webhook's format (signature, JSON safety, payload shape) is Order Desk's, in
``bridge.orderdesk.webhook``. Outcomes and bodies follow the intake contract in
``docs/architecture.md``.
"""
