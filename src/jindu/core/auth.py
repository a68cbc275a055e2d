"""The session authentication backend. Credentials are checked only by ``accounts.auth_login`` (lockout,
TOTP, audit), so ``authenticate()`` here never accepts anything on its own."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import BaseBackend

from jindu.core.models import User


class JinduModelBackend(BaseBackend):
    def authenticate(self, request: Any, **credentials: Any) -> None:
        return None

    def get_user(self, user_id: Any) -> User | None:
        user = User.objects.filter(pk=user_id, is_active=True).first()
        if user is None or user.is_locked():
            return None
        return user
