"""Connects with a password written into the source."""

password = "hunter2-but-longer"


def connect(client):
    return client.login("admin", password)
