"""Benchmarks behind `imperium bench` and the scripts in bench/. They print JSON; tests
never assert on their timings."""
