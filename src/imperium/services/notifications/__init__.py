"""Alerts out: rules over the event bus and the queue, delivered to webhooks and email.

What belongs here: matching events to rules, the cooldown, retries and the record of
every delivery attempt. How a message travels (HTTP, SMTP) is an adapter's, behind
:class:`~imperium.services.notifications.ports.Sender`.
"""
