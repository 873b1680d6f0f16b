"""JSON shapes that more than one route module answers with, built from what services
return (``swarm``: the engine's counts; ``imperium``: the seed's agent metrics and status).
Route modules share these, and their bodies in ``schemas``, never each other's code."""
