"""The Custody Protocol's harness: the test bank (``bank``: items per category and
difficulty tier, loaded from ``bank/*.json`` and validated) and its graders (``graders``:
exact, contains, regex, numeric, JSON schema and unit-test checks over an agent's result).
The rules — tiers, XP, levels, eligibility — are ``imperium.domain.custody``."""
