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


class RateLimited(KunruyiError):
    status_code = 429
    code = "rate_limited"


class PayloadTooLarge(KunruyiError):
    status_code = 413
    code = "payload_too_large"


class InvalidContact(KunruyiError):
    """Contact details in a handoff request that cannot be used (bad phone number, too long)."""

    status_code = 422
    code = "invalid_contact"


# --- staff console ---------------------------------------------------------------------------

class AdminUnauthorized(KunruyiError):
    status_code = 401
    code = "admin_unauthorized"


class AdminForbidden(KunruyiError):
    status_code = 403
    code = "admin_forbidden"


class AdminDisabled(KunruyiError):
    """No staff token is configured: the console stays closed rather than open."""

    status_code = 503
    code = "admin_disabled"


class UploadRefused(KunruyiError):
    """An uploaded file refused before anything was written (type, name, bomb, encryption)."""

    status_code = 422
    code = "upload_refused"


class DocumentConflict(KunruyiError):
    status_code = 409
    code = "document_conflict"


class RecordNotFound(KunruyiError):
    """A job, handoff or other staff-console record that does not exist."""

    status_code = 404
    code = "not_found"


class InvalidAdminRequest(KunruyiError):
    status_code = 422
    code = "invalid_request"


class ChannelNotConfigured(KunruyiError):
    """A messaging channel (WeChat Official Account, WeCom) whose settings are not filled in."""

    status_code = 404
    code = "channel_not_configured"


class CallbackRejected(KunruyiError):
    """A WeChat/WeCom callback that fails its signature, AppID/CorpID or timestamp check."""

    status_code = 403
    code = "callback_rejected"


class MalformedCallback(KunruyiError):
    status_code = 400
    code = "malformed_callback"
