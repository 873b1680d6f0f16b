"""Rendering reports to PDF: a headless Chromium (``chromium``)."""
