"""Every model, imported in one place so the metadata (and Alembic autogenerate) sees all tables."""

from app.audit.models import AuditEvent
from app.auth.models import ApiToken, PasswordReset, User
from app.cases.models import Attachment, Case, Comment
from app.categories.models import Category
from app.counters import KeyCounter
from app.devices.models import Alarm, DeadLetter, Device, DeviceToken, Incident, ProcessedMessage
from app.emergency.models import Emergency, EmergencyPlan, EmergencyResponder, EmergencyUpdate
from app.grids.models import Grid, GridMember
from app.idempotency import IdempotencyKey
from app.inspections.models import Campaign, CampaignItem, InspectionPhoto, Place
from app.jobs.models import JobOutbox
from app.mediation.models import Dispute, DisputeDocument, DisputeParty, MediationSession, MediationVolunteer
from app.units.models import Unit, UnitGrid
from app.workflow.form_version_models import DefinitionForm, FormVersion
from app.workflow.migration_models import InstanceMigration
from app.workflow.models import EngineIncident, HumanTask, ProcessDefinition, ProcessInstance, ProcessJoin
from app.workflow.publication_models import ProcessPublication
from app.workflow.test_run_models import TestRun
from app.workflow.timer_start_models import TimerStart

ALL_MODELS = (
    AuditEvent,
    ApiToken,
    PasswordReset,
    IdempotencyKey,
    User,
    Attachment,
    Case,
    Comment,
    KeyCounter,
    JobOutbox,
    Category,
    Device,
    DeviceToken,
    Alarm,
    Incident,
    DeadLetter,
    ProcessedMessage,
    Grid,
    GridMember,
    Unit,
    UnitGrid,
    HumanTask,
    ProcessDefinition,
    ProcessInstance,
    ProcessPublication,
    EngineIncident,
    DefinitionForm,
    FormVersion,
    InstanceMigration,
    EmergencyPlan,
    Emergency,
    EmergencyResponder,
    EmergencyUpdate,
    Dispute,
    DisputeParty,
    MediationSession,
    DisputeDocument,
    MediationVolunteer,
    Place,
    Campaign,
    CampaignItem,
    InspectionPhoto,
    ProcessJoin,
    TestRun,
    TimerStart,
)
