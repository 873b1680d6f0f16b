"""Edges: the CLI now, the HTTP API and dashboard later. Turn domain errors into messages
(or problem responses); hold no business logic."""
