"""The workflow runtime: the only package that imports SpiffWorkflow.

- ``engine``: parse BPMN, run engine steps, serialize state (pure, no database)
- ``sandbox``: RestrictedPython environment for designer scripts and expressions
- ``operators``: the registry of Python capabilities that service tasks call by name
- ``timers``: SpiffWorkflow's timers read the injectable clock
- ``forms``: JSON Schema task forms
- ``models`` / ``deploy`` / ``instances`` / ``scheduler``: persistence, versioned deployment, locking
- ``rows``: the step's writes with SQLAlchemy Core, keeping the session's objects in step
- ``live`` / ``reuse``: keep the workflow object a committed step leaves, so the next step on that instance
  need not restore it (and when such an object counts as a restore of its state)
"""
