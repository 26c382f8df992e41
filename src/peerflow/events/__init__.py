"""Events as they travel: the envelope every event carries, and JSON Lines histories.

Owns ``Event`` and ``Actor``, the checks on an event's fields (types, sizes, characters),
reading and writing one history, and reading many histories from files line by line.

May import: ``peerflow._errors``, ``peerflow._bulk`` and ``peerflow._lazy``. It knows nothing
of definitions:
whether an event is allowed is the engine's question.
"""
