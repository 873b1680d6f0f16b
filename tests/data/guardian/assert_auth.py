"""Deletes a user, if the caller is an administrator."""


def delete_user(caller, user_id, store):
    assert caller.is_admin, "only administrators may delete users"
    store.delete(user_id)
