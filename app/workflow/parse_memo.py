"""``engine.parse_documents`` remembered per process, keyed by what its answer depends on.

Deploying a file parses it with every other deployed file (call activities and decisions resolve), so
deploying a folder parses the same bytes again and again, and every app of the process (every test's, every
worker's) deploys the same diagrams: about half the CPU of a deploy. The answer depends on the main file's
name, the bytes of every document, the rules' operators, roles and required properties, and the answers
``form_exists`` gave: a remembered answer is used only while those same forms still exist or not.
Refusals are not remembered (they are rare, and their problems are exceptions to be raised fresh).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Any

from app.workflow.engine import DeploymentError, ParsedProcess, ValidationRules, parse_documents

MAX_ENTRIES = 256  # distinct (file, documents, rules): a test session deploys a few hundred


@dataclass(frozen=True)
class _Remembered:
    forms_asked: tuple[tuple[str, bool], ...]  # (form name, whether it existed) as the parse asked
    processes: tuple[ParsedProcess, ...]  # never handed out: callers get copies
    spec_documents: tuple[str, ...]  # each process's spec document as JSON text, loaded fresh per copy


_memo: OrderedDict[tuple[Any, ...], _Remembered] = OrderedDict()
_lock = threading.Lock()


def parsed_documents(
    main_file: str, documents: dict[str, bytes], rules: ValidationRules
) -> list[ParsedProcess]:
    """What ``parse_documents(main_file, documents, rules)`` answers (or raises), parsed once per process
    for the same inputs; each call gets its own copy, so a caller may change what it gets."""
    key = _key(main_file, documents, rules)
    with _lock:
        remembered = _memo.get(key)
        if remembered is not None:
            _memo.move_to_end(key)
    if remembered is not None and all(rules.form_exists(n) == found for n, found in remembered.forms_asked):
        return _copies(remembered)
    asked: dict[str, bool] = {}

    def form_exists(name: str) -> bool:
        asked[name] = bool(rules.form_exists(name))
        return asked[name]

    processes = parse_documents(main_file, documents, replace(rules, form_exists=form_exists))
    remembered = _Remembered(
        tuple(asked.items()), tuple(processes), tuple(json.dumps(p.spec_document) for p in processes)
    )
    with _lock:
        _memo[key] = remembered
        while len(_memo) > MAX_ENTRIES:
            _memo.popitem(last=False)
    return _copies(remembered)


def _key(main_file: str, documents: dict[str, bytes], rules: ValidationRules) -> tuple[Any, ...]:
    hashes = tuple(sorted((name, hashlib.sha256(content).digest()) for name, content in documents.items()))
    return (
        main_file,
        hashes,
        frozenset(rules.operator_names),
        frozenset(rules.known_roles),
        tuple(rules.required_user_task_properties),
    )


def _copies(remembered: _Remembered) -> list[ParsedProcess]:
    return [
        replace(
            process,
            spec_document=json.loads(spec_document),
            user_tasks=[replace(t, properties=dict(t.properties)) for t in process.user_tasks],
            service_operators=dict(process.service_operators),
            start_messages=list(process.start_messages),
            warnings=[_copy_problem(w) for w in process.warnings],
            start_form=json.loads(json.dumps(process.start_form)) if process.start_form is not None else None,
        )
        for process, spec_document in zip(remembered.processes, remembered.spec_documents, strict=True)
    ]


def _copy_problem(problem: DeploymentError) -> DeploymentError:
    return DeploymentError(
        problem.file_name,
        problem.element_id,
        problem.reason,
        problem.line,
        element_name=problem.element_name,
        severity=problem.severity,
        original=problem.original,
    )

