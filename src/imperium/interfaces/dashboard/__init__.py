"""The web dashboard, served by ``imperium serve`` at ``/`` beside the API.

Server-rendered pages (Jinja2 templates in ``templates/``) over the services the API uses
(``ApiServices``, built once by ``create_app``), live from the event bus (a Server-Sent
Events stream, ``/ui/events``), with htmx and uPlot vendored in ``static/vendor`` (no CDN:
the machine may be offline) under a strict Content-Security-Policy (no inline script or
style). Live state comes from the engine's snapshot and census, history from the stores'
SQL aggregates; nothing here reaches into the engine's privates.

- ``app``: :func:`create_app` — the API's app with the dashboard installed.
- ``sessions``, ``access``: sign-in with an API key (when keys are in force), the session
  cookie, CSRF tokens, and what the signed-in role may do.
- ``pages``: rendering (templates, the CSP); ``overview``, ``tasks``, ``workflows``,
  ``agents`` (with ``autoscaling``, its panel), ``learning``, ``teams``, ``custody`` (and
  proposals), ``events``: the pages; ``stream``: the live event stream.

It may import the API's wiring (``interfaces.api``: deps, auth, metrics) and everything
below the interfaces; the API never imports it.
"""

from __future__ import annotations

from imperium.interfaces.dashboard.app import create_app

__all__ = ["create_app"]
