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
        # A lockout stops password guessing; it does not end sessions already established (otherwise
        # anyone could log an administrator out by typing wrong passwords). Disabling does end them.
        return User.objects.filter(pk=user_id, is_active=True).first()
