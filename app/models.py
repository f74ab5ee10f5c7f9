"""Every model, imported in one place so the metadata (and Alembic autogenerate) sees all tables."""

from app.audit.models import AuditEvent
from app.auth.models import ApiToken, User
from app.cases.models import Attachment, Case, Comment, KeyCounter
from app.grids.models import Grid
from app.workflow.models import HumanTask, ProcessDefinition, ProcessInstance

ALL_MODELS = (
    AuditEvent,
    ApiToken,
    User,
    Attachment,
    Case,
    Comment,
    KeyCounter,
    Grid,
    HumanTask,
    ProcessDefinition,
    ProcessInstance,
)
