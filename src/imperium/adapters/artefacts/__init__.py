"""Artefact stores (``ports.ArtefactStore``): files in a directory, and memory for tests."""
