"""A cheap argon2 for tests: the same algorithm and format, a tiny cost (tests create many accounts)."""

from django.contrib.auth.hashers import Argon2PasswordHasher


class CheapArgon2PasswordHasher(Argon2PasswordHasher):
    time_cost = 1
    memory_cost = 1024
    parallelism = 1
