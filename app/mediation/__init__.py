"""Dispute mediation (矛盾纠纷调解): filing, mediator assignment, sessions, agreement or referral, follow-up,
privacy of the parties' personal data, KPIs. The process is ``bpmn/dispute_mediation.bpmn``."""
