"""The server's audit key: an Ed25519 key pair in a file outside the database.

* The private key signs checkpoints of the audit chain's head (kept anywhere: a file, an
  object store, an e-mail to the auditor) and keys the MAC every audit row carries, so a row
  written or rewritten by someone with database access but without this file is caught.
* The public key (``.pub`` beside it, or ``audit-log public-key``) is all an auditor needs to
  check checkpoints and an export, with no database.

The key file is ``$ETHICS_REVIEW_SIGNING_KEY`` or ``<data dir>/audit-signing.key`` (PEM,
mode 0600, created on first use). Every process that writes the audit log on one deployment
(the server, its flows, an admin's direct-mode CLI on that machine) must share it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from review.errors import InvalidInput

KEY_ENV = "ETHICS_REVIEW_SIGNING_KEY"
KEY_FILE = "audit-signing.key"
_MAC_INFO = b"ethics-review audit row mac v1"
_cache: dict[str, "AuditKey"] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class AuditKey:
    private: Ed25519PrivateKey
    mac_key: bytes
    path: Path

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    @property
    def public_b64(self) -> str:
        return public_b64(self.public)

    @property
    def key_id(self) -> str:
        return key_id(self.public)

    def mac(self, row_hash: str) -> str:
        return hmac.new(self.mac_key, row_hash.encode(), hashlib.sha256).hexdigest()

    def sign(self, data: bytes) -> str:
        return base64.b64encode(self.private.sign(data)).decode()


def public_b64(pub: Ed25519PublicKey) -> str:
    return base64.b64encode(pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)).decode()


def key_id(pub: Ed25519PublicKey) -> str:
    """A short, stable name for a public key (first 16 hex digits of its SHA-256)."""
    return hashlib.sha256(pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)).hexdigest()[:16]


def key_path(data_dir: Path) -> Path:
    explicit = os.environ.get(KEY_ENV)
    return Path(explicit) if explicit else Path(data_dir) / KEY_FILE


def load_key(data_dir: Path, *, create: bool = True) -> AuditKey | None:
    """The audit key (created on first use when ``create``); None when absent and not created."""
    path = key_path(data_dir)
    with _lock:
        cached = _cache.get(str(path))
        if cached is not None and path.exists():
            return cached
        if not path.exists():
            if not create:
                return None
            _create(path)
        if path.stat().st_mode & 0o077:
            raise InvalidInput(f"{path}: the audit signing key is readable by other users; `chmod 600 {path}`")
        try:
            private = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (ValueError, TypeError):
            raise InvalidInput(f"{path}: not an Ed25519 private key in PEM (the audit signing key)") from None
        if not isinstance(private, Ed25519PrivateKey):
            raise InvalidInput(f"{path}: the audit signing key must be Ed25519")
        raw = private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
        mac_key = HKDF(algorithm=SHA256(), length=32, salt=None, info=_MAC_INFO).derive(raw)
        key = AuditKey(private, mac_key, path)
        _cache[str(path)] = key
        return key


def _create(path: Path) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return  # another process created it first: use theirs
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    pub = path.with_suffix(".pub")
    pub.write_text(public_pem(private.public_key()), encoding="utf-8")


def public_pem(pub: Ed25519PublicKey) -> str:
    return pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def read_public_key(text: str, *, where: str) -> Ed25519PublicKey:
    """A public key from PEM or from the base64 of its 32 raw bytes."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            pub = serialization.load_pem_public_key(text.encode())
        else:
            pub = Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))
    except (ValueError, TypeError):
        raise InvalidInput(f"{where}: not an Ed25519 public key (PEM, or base64 of the raw 32 bytes)") from None
    if not isinstance(pub, Ed25519PublicKey):
        raise InvalidInput(f"{where}: the key is not Ed25519")
    return pub


def verify_signature(pub: Ed25519PublicKey, data: bytes, signature_b64: str) -> bool:
    try:
        pub.verify(base64.b64decode(signature_b64, validate=True), data)
        return True
    except (InvalidSignature, ValueError, TypeError):
        return False
