"""Connectors to external systems, one module per system, talking to the app through one narrow entry.

- ``adapters/``: payload adapters (zigbee2mqtt, read tolerantly, with its bridge's state and events; the
  generic JSON format with one module per device kind), pure functions from (topic, payload bytes, retained)
  to normalized readings, or a dead-letter reason; ``device_ref(topic)`` names the device of a dead letter.
- ``ingest.py``: ``ingest(...)`` for one message and ``ingest_many(messages)`` for the listener's batches,
  the one entry into the app: one transaction per call (dedup, adapt, device state, alarms, incidents).
  Needs an app context, never a request context.
- ``routine.py``: the bulk path for routine messages (telemetry, repeats of active latched alarms whose case
  is open): plain rows and one statement per table and batch; everything else (a first report, a momentary
  alarm's repeat, an alarm whose case was closed, a bridge event) takes the ORM path of
  ``app.devices.alarms``.
- ``mqtt.py``: the MQTT listener (``flask connectors mqtt``), ingesting batches and having them acknowledged
  after commit, healing itself when the database, Redis or the broker goes away (retries with backoff, a
  watchdog over its ingesting thread, gaps in the stream recorded); ``mqtt_network.py``: its network
  process (paho, QoS 1, persistent session, manual acks, optional shared subscription);
  ``listener_health.py``: its health (file, ``flask connectors mqtt-health``, a warning a minute while
  not ok); ``gaps.py``: messages a device's zigbee2mqtt ``last_seen``/``elapsed`` show we never received.
- ``mosquitto.conf``: the broker configuration to run with it (persistence, queues sized for an outage).
- ``http_ingest.py``: ``POST /api/v1/ingest/<device_id>`` for devices authenticated by their own token.
- ``simulator.py``, ``scenarios/``: ``flask connectors simulate``.
- ``cli.py``: the ``flask connectors`` commands.

A new incident's case is opened after the ingesting transaction commits (``app.devices.case_opening``): by
an RQ worker in stack mode, in the ingesting process in embedded mode.
"""
