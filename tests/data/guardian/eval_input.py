"""Evaluates what the user typed."""


def calculate(user_input):
    return eval(user_input)
