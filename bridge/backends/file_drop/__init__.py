"""The ``file_drop`` backend: CSV files over a local directory or SFTP (docs/backends.md#file-drop).

``config`` (the store settings), ``columns`` (CSV layouts), ``transport`` (local and SFTP
folders), ``outbox`` (order files, once per key), ``inbox`` (shipment and inventory files, once
per content), ``ledger`` (the database rows that remember both) and ``backend`` (the class).
"""
