"""Blank out credentials in anything a server sent before it reaches an exception, a log or the UI."""

from __future__ import annotations

import threading
from collections import deque
from urllib.parse import quote, quote_plus

MAX_SERVER_TEXT = 400
KEPT_TOKENS = 16
MASK = "***"


class Redactor:
    """Knows the client secret and the recent access tokens; removes them from server-supplied text.

    A hostile or broken server can echo what it received in any field (``code``, ``message``,
    ``requestId``, a header, a redirect target), so every such value passes through :meth:`__call__`:
    credentials (also URL-encoded) become ``***``, control characters become spaces (no forged log
    lines) and the text is cut at :data:`MAX_SERVER_TEXT` characters, after the replacement so that no
    half secret survives a cut.

    :param secrets: values known from the start (the client secret).
    """

    def __init__(self, *secrets: str) -> None:
        self._lock = threading.Lock()
        self._fixed = tuple(secret for secret in secrets if secret)
        self._tokens: deque[str] = deque(maxlen=KEPT_TOKENS)

    def add(self, value: str) -> None:
        """Remember one more value to blank out (an access token on receipt).

        :param value: the credential.
        """
        if value:
            with self._lock:
                self._tokens.append(value)

    def __call__(self, value: object) -> str:
        """``value`` as safe text: credentials blanked, control characters replaced, length capped.

        :param value: anything a server supplied; ``None`` gives an empty string.
        """
        if value is None:
            return ""
        text = str(value)
        with self._lock:
            known = (*self._fixed, *self._tokens)
        for secret in sorted(known, key=len, reverse=True):
            for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
                text = text.replace(form, MASK)
        text = "".join(char if char.isprintable() else " " for char in text)
        return text if len(text) <= MAX_SERVER_TEXT else f"{text[:MAX_SERVER_TEXT]}..."
