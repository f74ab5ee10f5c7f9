"""The append-only audit trail: every change to a case, task or instance, written in the same transaction."""
