"""How alerts travel: signed webhooks over HTTP (``webhook``) and email over SMTP
(``smtp``), each a ``Sender`` of ``services/notifications``."""
