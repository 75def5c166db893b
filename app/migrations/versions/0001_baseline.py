"""Baseline: every table as the releases before migrations created them (create_all + their ALTER lists).

The definitions are frozen here, apart from the models: later revisions change the schema, this one
never does. database._adopt uses ``metadata`` to stamp a database created before migrations.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

metadata = sa.MetaData()

sa.Table(
    "admin_audit", metadata,
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("actor", sa.String(length=64), nullable=False),
    sa.Column("role", sa.String(length=16), nullable=False),
    sa.Column("action", sa.String(length=32), nullable=False),
    sa.Column("doc_id", sa.String(length=128), nullable=True),
    sa.Column("version", sa.Integer(), nullable=True),
    sa.Column("job_id", sa.String(length=32), nullable=True),
    sa.Column("detail", sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint("id"),
    sa.Index("ix_admin_audit_action", "action"),
    sa.Index("ix_admin_audit_actor", "actor"),
    sa.Index("ix_admin_audit_at", "at"),
    sa.Index("ix_admin_audit_doc_id", "doc_id"),
)

sa.Table(
    "admin_jobs", metadata,
    sa.Column("id", sa.String(length=32), nullable=False),
    sa.Column("kind", sa.String(length=16), nullable=False),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.Column("total", sa.Integer(), nullable=False),
    sa.Column("done", sa.Integer(), nullable=False),
    sa.Column("items", sa.JSON(), nullable=False),
    sa.Column("message", sa.Text(), nullable=False),
    sa.Column("created_by", sa.String(length=64), nullable=False),
    sa.Column("role", sa.String(length=16), nullable=False),
    sa.Column("owner", sa.String(length=200), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint("id"),
    sa.Index("ix_admin_jobs_created_at", "created_at"),
    sa.Index("ix_admin_jobs_status", "status"),
)

sa.Table(
    "conversations", metadata,
    sa.Column("id", sa.String(length=64), nullable=False),
    sa.Column("channel", sa.String(length=32), nullable=False),
    sa.Column("user_ref", sa.String(length=200), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("id"),
    sa.Index("ix_conversations_user_ref", "user_ref"),
)

sa.Table(
    "counters", metadata,
    sa.Column("name", sa.String(length=64), nullable=False),
    sa.Column("value", sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint("name"),
)

sa.Table(
    "curated_answers", metadata,
    sa.Column("id", sa.String(length=32), nullable=False),
    sa.Column("question", sa.Text(), nullable=False),
    sa.Column("answer", sa.Text(), nullable=False),
    sa.Column("sources", sa.JSON(), nullable=False),
    sa.Column("embedding", sa.JSON(), nullable=False),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.Column("review_reason", sa.Text(), nullable=False),
    sa.Column("origin", sa.String(length=200), nullable=True),
    sa.Column("hits", sa.Integer(), nullable=False),
    sa.Column("created_by", sa.String(length=64), nullable=False),
    sa.Column("updated_by", sa.String(length=64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("id"),
    sa.Index("ix_curated_answers_status", "status"),
    sa.Index("ix_curated_answers_updated_at", "updated_at"),
)

sa.Table(
    "document_version_texts", metadata,
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("doc_id", sa.String(length=128), nullable=False),
    sa.Column("content_hash", sa.String(length=64), nullable=False),
    sa.Column("text", sa.Text(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("id"),
    sa.Index("ix_document_version_texts_content_hash", "content_hash"),
    sa.Index("ix_document_version_texts_doc_id", "doc_id"),
)

sa.Table(
    "documents", metadata,
    sa.Column("doc_id", sa.String(length=128), nullable=False),
    sa.Column("title", sa.String(length=500), nullable=False),
    sa.Column("doc_number", sa.String(length=200), nullable=True),
    sa.Column("issuer", sa.String(length=200), nullable=True),
    sa.Column("published", sa.Date(), nullable=True),
    sa.Column("effective_from", sa.Date(), nullable=True),
    sa.Column("expires", sa.Date(), nullable=True),
    sa.Column("category", sa.String(length=32), nullable=False),
    sa.Column("url", sa.String(length=1000), nullable=True),
    sa.Column("source", sa.String(length=500), nullable=False),
    sa.Column("sample", sa.Boolean(), nullable=False),
    sa.Column("path", sa.String(length=2000), nullable=True),
    sa.Column("format", sa.String(length=16), nullable=False),
    sa.Column("content_hash", sa.String(length=64), nullable=False),
    sa.Column("active_hash", sa.String(length=64), nullable=False),
    sa.Column("overrides", sa.JSON(), nullable=True),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("chunk_count", sa.Integer(), nullable=False),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.Column("text", sa.Text(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("doc_id"),
    sa.Index("ix_documents_path", "path"),
    sa.Index("ix_documents_status", "status"),
)

sa.Table(
    "policy_items", metadata,
    sa.Column("item_id", sa.String(length=32), nullable=False),
    sa.Column("doc_id", sa.String(length=128), nullable=False),
    sa.Column("content_hash", sa.String(length=64), nullable=False),
    sa.Column("article", sa.String(length=200), nullable=False),
    sa.Column("extracted", sa.JSON(), nullable=False),
    sa.Column("review", sa.String(length=16), nullable=False),
    sa.Column("edited", sa.JSON(), nullable=True),
    sa.Column("reviewer", sa.String(length=64), nullable=True),
    sa.Column("note", sa.Text(), nullable=True),
    sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("item_id"),
    sa.Index("ix_policy_items_doc_id", "doc_id"),
)

sa.Table(
    "publish_reviews", metadata,
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("doc_id", sa.String(length=128), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("content_hash", sa.String(length=64), nullable=False),
    sa.Column("title", sa.String(length=500), nullable=False),
    sa.Column("path", sa.String(length=2000), nullable=True),
    sa.Column("source", sa.String(length=500), nullable=False),
    sa.Column("overrides", sa.JSON(), nullable=True),
    sa.Column("chunk_count", sa.Integer(), nullable=False),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("submitted_by", sa.String(length=64), nullable=False),
    sa.Column("decided_by", sa.String(length=64), nullable=True),
    sa.Column("job_id", sa.String(length=32), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint("id"),
    sa.Index("ix_publish_reviews_content_hash", "content_hash"),
    sa.Index("ix_publish_reviews_doc_id", "doc_id"),
    sa.Index("ix_publish_reviews_status", "status"),
)

sa.Table(
    "push_batches", metadata,
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("key", sa.String(length=200), nullable=False),
    sa.Column("trigger", sa.String(length=16), nullable=False),
    sa.Column("title", sa.String(length=500), nullable=False),
    sa.Column("doc_id", sa.String(length=128), nullable=True),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.Column("total", sa.Integer(), nullable=False),
    sa.Column("decided_by", sa.String(length=64), nullable=True),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("key"),
    sa.Index("ix_push_batches_created_at", "created_at"),
    sa.Index("ix_push_batches_status", "status"),
)

sa.Table(
    "push_seen_versions", metadata,
    sa.Column("doc_id", sa.String(length=128), nullable=False),
    sa.Column("content_hash", sa.String(length=64), nullable=False),
    sa.Column("expires", sa.String(length=10), nullable=True),
    sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("doc_id", "content_hash"),
)

sa.Table(
    "push_subscriptions", metadata,
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("channel", sa.String(length=16), nullable=False),
    sa.Column("user_ref", sa.String(length=200), nullable=False),
    sa.Column("profile", sa.JSON(), nullable=False),
    sa.Column("topics", sa.JSON(), nullable=False),
    sa.Column("region", sa.String(length=40), nullable=True),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.Column("paused_reason", sa.String(length=200), nullable=True),
    sa.Column("step", sa.String(length=32), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("channel", "user_ref", name="uq_push_subscriber"),
    sa.Index("ix_push_subscriptions_status", "status"),
)

sa.Table(
    "pushes", metadata,
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("batch_id", sa.Integer(), nullable=False),
    sa.Column("subscription_id", sa.Integer(), nullable=False),
    sa.Column("item_id", sa.String(length=32), nullable=False),
    sa.Column("doc_id", sa.String(length=128), nullable=False),
    sa.Column("trigger_key", sa.String(length=64), nullable=False),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.Column("content", sa.JSON(), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("next_at", sa.Float(precision=53), nullable=False),
    sa.Column("via", sa.String(length=16), nullable=True),
    sa.Column("errcode", sa.Integer(), nullable=True),
    sa.Column("error", sa.Text(), nullable=True),
    sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("subscription_id", "item_id", "trigger_key", name="uq_push_once"),
    sa.Index("ix_pushes_batch_id", "batch_id"),
    sa.Index("ix_pushes_doc_id", "doc_id"),
    sa.Index("ix_pushes_sent_at", "sent_at"),
    sa.Index("ix_pushes_status", "status"),
    sa.Index("ix_pushes_subscription_id", "subscription_id"),
)

sa.Table(
    "shared_state", metadata,
    sa.Column("key", sa.String(length=255), nullable=False),
    sa.Column("value", sa.Text(), nullable=False),
    sa.Column("expires_at", sa.Float(precision=53), nullable=True),
    sa.PrimaryKeyConstraint("key"),
    sa.Index("ix_shared_state_expires_at", "expires_at"),
)

sa.Table(
    "shared_state_items", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
    sa.Column("key", sa.String(length=255), nullable=False),
    sa.Column("value", sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint("id"),
    sa.Index("ix_shared_state_items_key", "key"),
)

sa.Table(
    "stored_files", metadata,
    sa.Column("name", sa.String(length=64), nullable=False),
    sa.Column("size", sa.Integer(), nullable=False),
    sa.Column("sha256", sa.String(length=64), nullable=False),
    sa.Column("data", sa.LargeBinary(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("name"),
)

sa.Table(
    "wechat_checkups", metadata,
    sa.Column("user_key", sa.String(length=200), nullable=False),
    sa.Column("profile", sa.JSON(), nullable=False),
    sa.Column("step", sa.Integer(), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("user_key"),
)

sa.Table(
    "document_versions", metadata,
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("doc_id", sa.String(length=128), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("content_hash", sa.String(length=64), nullable=False),
    sa.Column("meta", sa.JSON(), nullable=False),
    sa.Column("chunk_count", sa.Integer(), nullable=False),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["doc_id"], ["documents.doc_id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id"),
    sa.Index("ix_document_versions_doc_id", "doc_id"),
)

sa.Table(
    "handoffs", metadata,
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("conversation_id", sa.String(length=64), nullable=False),
    sa.Column("name", sa.String(length=100), nullable=True),
    sa.Column("phone", sa.String(length=50), nullable=True),
    sa.Column("company", sa.String(length=200), nullable=True),
    sa.Column("note", sa.Text(), nullable=True),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id"),
    sa.Index("ix_handoffs_conversation_id", "conversation_id"),
    sa.Index("ix_handoffs_created_at", "created_at"),
)

sa.Table(
    "messages", metadata,
    sa.Column("id", sa.String(length=64), nullable=False),
    sa.Column("conversation_id", sa.String(length=64), nullable=False),
    sa.Column("role", sa.String(length=16), nullable=False),
    sa.Column("content", sa.Text(), nullable=False),
    sa.Column("standalone_question", sa.Text(), nullable=True),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.Column("grounded", sa.Boolean(), nullable=True),
    sa.Column("fallback", sa.Boolean(), nullable=True),
    sa.Column("refusal_reason", sa.String(length=32), nullable=True),
    sa.Column("citations", sa.JSON(), nullable=True),
    sa.Column("latency_ms", sa.Float(), nullable=True),
    sa.Column("reply_to", sa.String(length=64), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id"),
    sa.Index("ix_messages_conversation_id", "conversation_id"),
    sa.Index("ix_messages_created_at", "created_at"),
)

sa.Table(
    "feedback", metadata,
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("message_id", sa.String(length=64), nullable=False),
    sa.Column("rating", sa.String(length=8), nullable=False),
    sa.Column("comment", sa.Text(), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["message_id"], ["messages.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id"),
    sa.Index("ix_feedback_message_id", "message_id"),
)

def upgrade() -> None:
    metadata.create_all(op.get_bind())


def downgrade() -> None:
    metadata.drop_all(op.get_bind())
