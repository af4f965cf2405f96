"""HS256 JSON Web Tokens for tests: the keys Supabase hands out, signed with a test secret.

Supabase's anon and service_role keys are HS256 JWTs whose `role` claim names the
database role PostgREST switches to; a signed-in user's access token carries
`role: authenticated` and `sub: <user id>`. Standard library only, so the stand-in
PostgREST and the tests share one small, readable implementation.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any
from uuid import UUID

TEST_JWT_SECRET = "queue-worker-test-jwt-secret-0123456789abcdef"  # not a real secret
_HEADER = {"alg": "HS256", "typ": "JWT"}


class InvalidToken(ValueError):
    """The token is malformed, not HS256, badly signed or expired."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(signing_input: str, secret: str) -> str:
    return _b64(hmac.new(secret.encode(), signing_input.encode("ascii"), hashlib.sha256).digest())


def encode(claims: dict[str, Any], secret: str = TEST_JWT_SECRET) -> str:
    """A compact HS256 JWT carrying `claims`."""
    head = _b64(json.dumps(_HEADER, separators=(",", ":")).encode())
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    return f"{head}.{body}.{_sign(f'{head}.{body}', secret)}"


def decode(token: str, secret: str = TEST_JWT_SECRET) -> dict[str, Any]:
    """The claims of a valid token; raises InvalidToken otherwise (also when `exp` has passed)."""
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidToken("JWT must have 3 parts")
    try:
        header, claims = json.loads(_unb64(parts[0])), json.loads(_unb64(parts[1]))
    except ValueError as exc:
        raise InvalidToken(f"JWT is not base64url JSON: {exc}") from exc
    if not isinstance(header, dict) or header.get("alg") != "HS256" or not isinstance(claims, dict):
        raise InvalidToken("JWT must be HS256 with an object payload")
    if not hmac.compare_digest(_sign(f"{parts[0]}.{parts[1]}", secret), parts[2]):
        raise InvalidToken("JWT signature does not match")
    if isinstance(claims.get("exp"), int | float) and claims["exp"] < time.time():
        raise InvalidToken("JWT expired")
    return claims


def role_key(role: str, secret: str = TEST_JWT_SECRET) -> str:
    """An API key like Supabase's anon / service_role keys."""
    return encode({"iss": "supabase-test", "role": role, "iat": int(time.time())}, secret)


def user_token(user_id: UUID | str, secret: str = TEST_JWT_SECRET, ttl_seconds: int = 3600,
               role: str = "authenticated") -> str:
    """A signed-in user's access token (sub = user id; role authenticated, or a custom JWT role)."""
    now = int(time.time())
    return encode({"sub": str(user_id), "role": role, "aud": "authenticated",
                   "iat": now, "exp": now + ttl_seconds}, secret)
