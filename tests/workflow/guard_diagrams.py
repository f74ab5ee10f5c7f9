"""Probe diagrams for the engine guards: scripts that misbehave, loops that run many rounds."""

from __future__ import annotations

from xml.sax.saxutils import escape

from tests.probes import definitions, user_task

# Offered to supervisors, with a form every test app has.
LOOK = {"formJsonSchemaFilename": "review.schema.json", "candidateRoles": "supervisor"}

# What the risky script does, by the instance's variable `kind` ("ok" passes: the canary).
RISKY_SCRIPT = """if kind == "exit":
    raise SystemExit("bye")
if kind == "interrupt":
    raise KeyboardInterrupt
if kind == "generator_exit":
    raise GeneratorExit
if kind == "range":
    leftover = range(3)
if kind == "generator":
    leftover = (x for x in [1, 2])
if kind == "huge_int":
    leftover = 10 ** 5000
if kind == "power":
    big = 2 ** 10 ** 9
if kind == "repeat":
    big = "x" * 10 ** 10
if kind == "spin":
    while True:
        pass
if kind == "spin_caught":
    try:
        while True:
            pass
    except Exception:
        caught = True
passed = True"""

BAD_KINDS = (
    "exit",
    "interrupt",
    "generator_exit",
    "range",
    "generator",
    "huge_int",
    "power",
    "repeat",
    "spin",
    "spin_caught",
)


def _script(task_id: str, incoming: str, outgoing: str, script: str) -> str:
    return f"""    <bpmn:scriptTask id="{task_id}">
      <bpmn:incoming>{incoming}</bpmn:incoming><bpmn:outgoing>{outgoing}</bpmn:outgoing>
      <bpmn:script>{escape(script)}</bpmn:script>
    </bpmn:scriptTask>"""


def _timer(event_id: str, incoming: str, outgoing: str, duration: str = "PT1H") -> str:
    return f"""    <bpmn:intermediateCatchEvent id="{event_id}">
      <bpmn:incoming>{incoming}</bpmn:incoming><bpmn:outgoing>{outgoing}</bpmn:outgoing>
      <bpmn:timerEventDefinition id="{event_id}_definition">
        <bpmn:timeDuration>"{duration}"</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>"""


def _flow(flow_id: str, source: str, target: str, condition: str | None = None) -> str:
    if condition is None:
        return f'    <bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}" />'
    return f"""    <bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}">
      <bpmn:conditionExpression>{escape(condition)}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>"""


def risky_after_timer_bpmn() -> bytes:
    """``guarded_timer``: start → timer (one hour) → risky script → user task ``after``."""
    body = "\n".join(
        [
            '  <bpmn:process id="guarded_timer" name="guarded timer" isExecutable="true">',
            '    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>',
            _flow("f1", "start", "wait"),
            _timer("wait", "f1", "f2"),
            _flow("f2", "wait", "risky"),
            _script("risky", "f2", "f3", RISKY_SCRIPT),
            _flow("f3", "risky", "after"),
            user_task("after", "f3", "f4", LOOK, name="After"),
            _flow("f4", "after", "end"),
            '    <bpmn:endEvent id="end"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>',
            "  </bpmn:process>",
        ]
    )
    return definitions("guarded_timer_definitions", body).encode()


def risky_after_task_bpmn() -> bytes:
    """``guarded_task``: start → user task ``go`` → risky script → user task ``after``."""
    body = "\n".join(
        [
            '  <bpmn:process id="guarded_task" name="guarded task" isExecutable="true">',
            '    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>',
            _flow("f1", "start", "go"),
            user_task("go", "f1", "f2", LOOK, name="Go"),
            _flow("f2", "go", "risky"),
            _script("risky", "f2", "f3", RISKY_SCRIPT),
            _flow("f3", "risky", "after"),
            user_task("after", "f3", "f4", LOOK, name="After"),
            _flow("f4", "after", "end"),
            '    <bpmn:endEvent id="end"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>',
            "  </bpmn:process>",
        ]
    )
    return definitions("guarded_task_definitions", body).encode()


def script_loop_bpmn(process_id: str = "script_loop", timer: bool = False) -> bytes:
    """``script_loop``: start → [timer] → ``init`` (n = 0) → ``step`` (n + 1) → gateway ``more``: back to
    ``step`` while n < rounds, else user task ``look``. ``rounds`` is an instance variable."""
    first = "wait" if timer else "init"
    parts = [
        f'  <bpmn:process id="{process_id}" name="{process_id}" isExecutable="true">',
        '    <bpmn:startEvent id="start"><bpmn:outgoing>f0</bpmn:outgoing></bpmn:startEvent>',
        _flow("f0", "start", first),
    ]
    if timer:
        parts += [_timer("wait", "f0", "f1"), _flow("f1", "wait", "init")]
    parts += [
        _script("init", "f1" if timer else "f0", "f2", "n = 0"),
        _flow("f2", "init", "step"),
        """    <bpmn:scriptTask id="step">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:incoming>back</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:script>n = n + 1</bpmn:script>
    </bpmn:scriptTask>""",
        _flow("f3", "step", "more"),
        """    <bpmn:exclusiveGateway id="more" default="done">
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>back</bpmn:outgoing><bpmn:outgoing>done</bpmn:outgoing>
    </bpmn:exclusiveGateway>""",
        _flow("back", "more", "step", "n < rounds"),
        _flow("done", "more", "look"),
        user_task("look", "done", "f4", LOOK, name="Look"),
        _flow("f4", "look", "end"),
        '    <bpmn:endEvent id="end"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>',
        "  </bpmn:process>",
    ]
    return definitions(f"{process_id}_definitions", "\n".join(parts)).encode()


def polling_loop_bpmn() -> bytes:
    """``polling_loop``: ``init`` → timer ``poll`` (PT1M) → ``count`` (n + 1) → gateway: back to the timer
    while n < rounds, else user task ``look``."""
    body = "\n".join(
        [
            '  <bpmn:process id="polling_loop" name="polling loop" isExecutable="true">',
            '    <bpmn:startEvent id="start"><bpmn:outgoing>f0</bpmn:outgoing></bpmn:startEvent>',
            _flow("f0", "start", "init"),
            _script("init", "f0", "f1", "n = 0"),
            _flow("f1", "init", "poll"),
            """    <bpmn:intermediateCatchEvent id="poll">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:incoming>back</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:timerEventDefinition id="poll_definition">
        <bpmn:timeDuration>"PT1M"</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>""",
            _flow("f2", "poll", "count"),
            _script("count", "f2", "f3", "n = n + 1"),
            _flow("f3", "count", "more"),
            """    <bpmn:exclusiveGateway id="more" default="done">
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>back</bpmn:outgoing><bpmn:outgoing>done</bpmn:outgoing>
    </bpmn:exclusiveGateway>""",
            _flow("back", "more", "poll", "n < rounds"),
            _flow("done", "more", "look"),
            user_task("look", "done", "f4", LOOK, name="Look"),
            _flow("f4", "look", "end"),
            '    <bpmn:endEvent id="end"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>',
            "  </bpmn:process>",
        ]
    )
    return definitions("polling_loop_definitions", body).encode()


def parallel_loop_bpmn() -> bytes:
    """``parallel_loop``: each round forks into ``left`` and ``right`` scripts, joins, then ``tally`` adds
    both sides' values to ``total``; back while n < rounds, else user task ``look``."""
    body = "\n".join(
        [
            '  <bpmn:process id="parallel_loop" name="parallel loop" isExecutable="true">',
            '    <bpmn:startEvent id="start"><bpmn:outgoing>f0</bpmn:outgoing></bpmn:startEvent>',
            _flow("f0", "start", "init"),
            _script("init", "f0", "f1", "n = 0\ntotal = 0"),
            _flow("f1", "init", "merge"),
            """    <bpmn:exclusiveGateway id="merge">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:incoming>back</bpmn:incoming><bpmn:outgoing>fm</bpmn:outgoing>
    </bpmn:exclusiveGateway>""",
            _flow("fm", "merge", "fork"),
            """    <bpmn:parallelGateway id="fork">
      <bpmn:incoming>fm</bpmn:incoming><bpmn:outgoing>fl</bpmn:outgoing><bpmn:outgoing>fr</bpmn:outgoing>
    </bpmn:parallelGateway>""",
            _flow("fl", "fork", "left"),
            _flow("fr", "fork", "right"),
            _script("left", "fl", "jl", "a = n"),
            _script("right", "fr", "jr", "b = 2 * n"),
            _flow("jl", "left", "join"),
            _flow("jr", "right", "join"),
            """    <bpmn:parallelGateway id="join">
      <bpmn:incoming>jl</bpmn:incoming><bpmn:incoming>jr</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:parallelGateway>""",
            _flow("f2", "join", "tally"),
            _script("tally", "f2", "f3", "total = total + a + b\nn = n + 1"),
            _flow("f3", "tally", "more"),
            """    <bpmn:exclusiveGateway id="more" default="done">
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>back</bpmn:outgoing><bpmn:outgoing>done</bpmn:outgoing>
    </bpmn:exclusiveGateway>""",
            _flow("back", "more", "merge", "n < rounds"),
            _flow("done", "more", "look"),
            user_task("look", "done", "f4", LOOK, name="Look"),
            _flow("f4", "look", "end"),
            '    <bpmn:endEvent id="end"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>',
            "  </bpmn:process>",
        ]
    )
    return definitions("parallel_loop_definitions", body).encode()


def rework_loop_bpmn() -> bytes:
    """``rework_loop``: user task ``review`` with a non-interrupting one-hour reminder (``remind`` counts
    ``reminders``); after it, ``count`` (n + 1) and back to ``review`` while n < rounds, else ``look``."""
    one = "<bpmn:incoming>f1</bpmn:incoming>"
    both = one + "<bpmn:incoming>back</bpmn:incoming>"
    review = user_task("review", "f1", "f2", LOOK, name="Review").replace(one, both)
    body = "\n".join(
        [
            '  <bpmn:process id="rework_loop" name="rework loop" isExecutable="true">',
            '    <bpmn:startEvent id="start"><bpmn:outgoing>f0</bpmn:outgoing></bpmn:startEvent>',
            _flow("f0", "start", "init"),
            _script("init", "f0", "f1", "n = 0\nreminders = 0"),
            _flow("f1", "init", "review"),
            review,
            """    <bpmn:boundaryEvent id="reminder" cancelActivity="false" attachedToRef="review">
      <bpmn:outgoing>fr1</bpmn:outgoing>
      <bpmn:timerEventDefinition id="reminder_definition">
        <bpmn:timeDuration>"PT1H"</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>""",
            _flow("fr1", "reminder", "remind"),
            _script("remind", "fr1", "fr2", "reminders = reminders + 1"),
            _flow("fr2", "remind", "reminded"),
            '    <bpmn:endEvent id="reminded"><bpmn:incoming>fr2</bpmn:incoming></bpmn:endEvent>',
            _flow("f2", "review", "count"),
            _script("count", "f2", "f3", "n = n + 1"),
            _flow("f3", "count", "more"),
            """    <bpmn:exclusiveGateway id="more" default="done">
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>back</bpmn:outgoing><bpmn:outgoing>done</bpmn:outgoing>
    </bpmn:exclusiveGateway>""",
            _flow("back", "more", "review", "n < rounds"),
            _flow("done", "more", "look"),
            user_task("look", "done", "f4", LOOK, name="Look"),
            _flow("f4", "look", "end"),
            '    <bpmn:endEvent id="end"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>',
            "  </bpmn:process>",
        ]
    )
    return definitions("rework_loop_definitions", body).encode()
