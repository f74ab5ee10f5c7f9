"""Inspection campaigns (专项检查): a place registry; campaigns a unit launches with a checklist; one
inspection per target place, offered to a grid worker of the place's grid; rectification notices
(整改通知) with a deadline, re-inspection after it, and a blacklist (黑名单) for places failing twice.
The process is ``bpmn/inspection_campaign.bpmn``; its capabilities are the ``inspection.*`` operators."""
