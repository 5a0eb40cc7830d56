"""CRM tokens and API keys at rest: Fernet with rotation (ENCRYPTION_KEYS, newest first)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class Vault:
    """Encrypts with the newest key, decrypts with any; `rotate` re-encrypts to the newest."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("ENCRYPTION_KEYS is empty")
        try:
            self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])
        except ValueError as exc:
            raise ValueError(
                "ENCRYPTION_KEYS must be Fernet keys (32 url-safe base64 bytes)"
            ) from exc

    def encrypt(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode())

    def decrypt(self, token: bytes) -> str:
        try:
            return self._fernet.decrypt(token).decode()
        except InvalidToken as exc:
            raise ValueError("cannot decrypt: none of ENCRYPTION_KEYS matches") from exc

    def rotate(self, token: bytes) -> bytes:
        return self._fernet.rotate(token)


API_KEY_PREFIX = "cdk_"


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    """Keys are looked up by hash, so the lookup is not a plaintext comparison."""
    return hashlib.sha256(key.encode()).hexdigest()
