"""The engine: a compiled definition that decides, for a state and a moment, what may happen.

Owns the compiled definition (steps and guards, windows, quorum, owed deliverables, dates,
content parts, budget, waivers), the programme state it folds events into, the blockers it
reports, next steps and deadlines, and the registry that finds definitions by id or file.
It is pure: time is passed in, nothing is read from the clock, the disk is read only to load
a definition.

May import: ``peerflow.model``, ``peerflow.events``, ``peerflow._errors``, ``peerflow._bulk``,
``peerflow._lazy``.
"""
