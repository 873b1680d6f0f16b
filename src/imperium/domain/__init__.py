"""Pure core: tasks, agents, states, priority, DAG, retry and dispatch maths.

May import only the standard library. Time and randomness come in as arguments.
"""
