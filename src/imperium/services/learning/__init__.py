"""Learning: cycles, recommendations and the simulator that measures them."""
