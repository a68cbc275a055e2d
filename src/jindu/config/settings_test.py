"""Test settings: the real settings with fixed test keys, a test-only app for the generic scoping tests,
and a fast password hasher only where a test does not check hashing itself."""

import os

# Fixed keys so tests never touch a key file.
os.environ.setdefault("JINDU_SECRET_KEY", "test-secret-key-not-for-production-0123456789abcdef")
os.environ.setdefault("JINDU_DATA_KEYS", "t1:" + "11" * 16)
os.environ.setdefault("JINDU_BLIND_INDEX_KEY", "22" * 32)
os.environ.setdefault("JINDU_AUDIT_KEY", "33" * 32)

from jindu.config.settings import *  # noqa: E402,F403
from jindu.config.settings import INSTALLED_APPS  # noqa: E402

INSTALLED_APPS = [*INSTALLED_APPS, "jindu.core.testing.sampleapp"]
ROOT_URLCONF = "jindu.core.testing.sampleapp.urls"
JINDU_AUTH_RATE_LIMIT = 1000
JINDU_EXTRA_API_ROUTERS = [("/sample/", "jindu.core.testing.sampleapp.api.router")]
# Argon2 still (tests check the format), at a cost that lets hundreds of tests create accounts quickly.
PASSWORD_HASHERS = ["jindu.core.testing.hashers.CheapArgon2PasswordHasher"]
