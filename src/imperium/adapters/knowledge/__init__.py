"""Knowledge sources behind the ``Connector`` port (services/knowledge/ports.py): RSS/Atom
feeds, local files and directories, Stack Exchange, GitHub and arXiv, all over the polite
``WebClient`` of ``http.py`` (rate limit, quota, retries, timeouts, allowed domains)."""
