"""Emergency escalation (应急处置): the plan library, the responders of each emergency, their report-in
states, on-scene updates and the measured timings. ``bpmn/emergency_escalation.bpmn`` calls
``app.emergency.operators``."""
