"""Maps an HTTP status and a few flags to what a client should do next."""


def next_action(status, retries, idempotent, has_body):
    if status < 200:
        return "wait"
    elif status < 300:
        return "done"
    elif status == 304:
        return "use cache"
    elif status < 400:
        return "follow"
    elif status == 401:
        return "authenticate"
    elif status == 403:
        return "give up"
    elif status == 404:
        return "report" if has_body else "give up"
    elif status == 408 and retries < 3:
        return "retry"
    elif status == 409:
        return "merge"
    elif status == 429:
        return "back off"
    elif status < 500:
        return "fix the request"
    elif status == 503 and retries < 5:
        return "back off"
    elif idempotent and retries < 3:
        return "retry"
    elif status == 504:
        return "retry later"
    else:
        return "give up"
