"""Loads a session object from the cookie the browser sent."""

import base64
import pickle


def load_session(cookie):
    return pickle.loads(base64.b64decode(cookie))
