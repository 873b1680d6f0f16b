"""Market data from exchanges' public REST APIs (issue 16)."""
