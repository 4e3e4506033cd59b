"""``bridge dev``: the whole bridge on one machine, on embedded defaults, against simulators.

``supervisor`` runs the child processes, ``bootstrap`` prepares the data folder, database, demo
store and simulators, ``samples`` makes the demo orders, ``progress`` shows where they are, and
``runner`` puts these together for the ``bridge dev`` command.
"""
