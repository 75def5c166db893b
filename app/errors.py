"""Domain exceptions. They are mapped to HTTP responses in one place (app.main)."""

from __future__ import annotations


class KunruyiError(Exception):
    """Base class; ``message`` is safe to show to a citizen or staff member (Chinese)."""

    status_code = 500
    code = "internal_error"

    def __init__(self, message: str, *, detail: str | None = None):
        super().__init__(message)
        self.message = message
        self.detail = detail


class ConfigurationError(KunruyiError):
    code = "configuration_error"


class EmbeddingModelMismatch(ConfigurationError):
    """The index was built with another embedding model than the configured one."""

    code = "embedding_model_mismatch"


class MissingExtraError(ConfigurationError):
    code = "missing_extra"


class DocumentNotFound(KunruyiError):
    status_code = 404
    code = "document_not_found"


class UnsupportedDocument(KunruyiError):
    """A file that cannot be turned into text (format, encryption, no text layer, empty)."""

    status_code = 422
    code = "unsupported_document"


class BackendUnavailable(KunruyiError):
    status_code = 503
    code = "backend_unavailable"


class InvalidQuestion(KunruyiError):
    """Empty or over-long chat message."""

    status_code = 422
    code = "invalid_question"


class MessageNotFound(KunruyiError):
    status_code = 404
    code = "message_not_found"


class ConversationNotFound(KunruyiError):
    status_code = 404
    code = "conversation_not_found"
