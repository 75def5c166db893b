"""The table registry: every module that defines tables, imported here and nowhere else for that purpose.

After ``import app.schema`` the metadata is complete, so schema migrations (app/migrations), start-up
(database.upgrade_schema) and backups (app.ops.backup) all see the same tables. A new table module
is added to MODEL_MODULES below; tests/ops/test_migrations.py fails when a table is defined outside it.
Table modules import only sqlalchemy and app.components.orm (never database.py), so this is no cycle.
"""

from __future__ import annotations

from sqlalchemy import MetaData

from app.admin import models as admin_models
from app.components import conversations, file_store, registry, shared_state
from app.components.orm import Base
from app.curation import models as curation_models
from app.facts import models as facts_models
from app.facts import store as facts_store
from app.pushes import models as pushes_models

MODEL_MODULES = (registry, conversations, shared_state, file_store, admin_models, facts_store, facts_models,
                 curation_models, pushes_models)

metadata: MetaData = Base.metadata
