"""The pipeline steps the Celery tasks call: each loads rows, talks to one service, records.

Every step is safe to run twice and holds no database connection while it waits on the network.
"""
