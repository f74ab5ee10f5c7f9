"""Connectors to external systems, one module per system, talking to the app through one narrow entry.

- ``adapters/``: payload adapters (zigbee2mqtt; the generic JSON format with one module per device kind),
  pure functions from (topic, payload bytes, retained) to normalized readings, or a dead-letter reason.
- ``ingest.py``: ``ingest(topic, payload, retained, received_at)``, the one entry into the app: one message,
  one transaction (dedup, adapt, device state, alarms, incidents and their cases). Needs an app context,
  never a request context.
- ``mqtt.py``: the MQTT listener (``flask connectors mqtt``): network thread → bounded queue → worker that
  ingests and then acknowledges (manual ack, QoS 1, persistent session, optional shared subscription).
- ``http_ingest.py``: ``POST /api/v1/ingest/<device_id>`` for devices authenticated by their own token.
- ``cli.py``: the ``flask connectors`` commands.

The case an incident opens is filed, and its process started, by ``app.devices.case_hook.open_incident_case``
inside the ingest transaction: for now the listener's worker runs that first engine step itself (atomic
with the alarm, rare: one per incident); handing it to an engine job is the hook's business.
"""
