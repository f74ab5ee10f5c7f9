"""A Camunda 7 Modeler diagram as a gridcase diagram, with a report of what changed and what needs a person.

Camunda's extensions (``camunda:*`` attributes and elements) mean nothing to our engine: deployed as they
are, they would be silently ignored (the form, the candidates, the due date) or fail at run time (JUEL
conditions are not Python). ``convert`` rewrites what has a gridcase equivalent and lists the rest:

- ``camunda:formKey`` / ``camunda:formRef`` → the ``formJsonSchemaFilename`` property, when ``forms/`` has a
  form of that name;
- ``camunda:candidateGroups`` → ``candidateRoles`` (names of our roles) or ``candidateGroup`` (one unit);
  ``camunda:candidateUsers`` (one user) and ``camunda:assignee`` → ``candidateUser``;
  ``camunda:dueDate`` → ``dueAt``;
- JUEL conditions (``${x}``, ``${!x}``, comparisons, ``&&``/``||``) → Python (``app/processes/juel.py``);
- timer values: a literal (``PT2H``, an ISO date) becomes a quoted string, ``${x}`` the variable;
- attributes with no meaning here (``asyncBefore``, ``historyTimeToLive``, ``versionTag`` …) are dropped.

Needs a person (kept as they are, so the deploy refuses them by name until rewritten, or removed and listed
with their content): scripts in another language than Python, Java delegates and external tasks, listeners,
input/output mappings, call-activity variable mappings, expressions this translation does not cover.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from app.processes import juel
from app.workflow.notices import in_language

CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
_SPIFF_PREFIX = "spiffworkflow"


class NotADiagram(ValueError):
    """The bytes are not a BPMN 2.0 XML document."""


@dataclass(frozen=True)
class Vocabulary:
    """What the conversion may refer to: our roles, whether ``forms/`` has a form (by its name without
    ``.schema.json``) and the unit codes."""

    roles: Collection[str]
    has_form: Callable[[str], bool]
    units: Collection[str] = ()


@dataclass(frozen=True)
class Change:
    """One line of the report. ``outcome``: converted | needs_hand | dropped."""

    element_id: str
    element_name: str
    outcome: str
    construct: str  # e.g. "camunda:formKey", "conditionExpression", "script (javascript)"
    before: str
    after: str
    reason: dict[str, str]  # {"zh-CN": ..., "en": ...}

    def as_dict(self) -> dict[str, Any]:
        """The report line, its reason in the request's language (zh-CN unless English is chosen)."""
        return {
            "element_id": self.element_id,
            "element_name": self.element_name,
            "outcome": self.outcome,
            "construct": self.construct,
            "before": self.before,
            "after": self.after,
            "reason": in_language(self.reason),
        }


@dataclass
class Conversion:
    xml: bytes
    changes: list[Change] = field(default_factory=list)

    @property
    def was_camunda(self) -> bool:
        return bool(self.changes)

    def needs_hand(self) -> list[Change]:
        return [change for change in self.changes if change.outcome == "needs_hand"]


# Attributes of Camunda's engine (jobs, history, tasklist) with nothing to do in ours.
_DROPPED_ATTRIBUTES = {
    "asyncBefore",
    "asyncAfter",
    "exclusive",
    "jobPriority",
    "taskPriority",
    "historyTimeToLive",
    "versionTag",
    "isStartableInTasklist",
    "priority",
    "followUpDate",
    "modelerTemplate",
    "modelerTemplateVersion",
    "failedJobRetryTimeCycle",
    "calledElementBinding",
    "calledElementVersion",
    "calledElementVersionTag",
    "calledElementTenantId",
    "formHandlerClass",
    "candidateStarterGroups",
    "candidateStarterUsers",
}
_DELEGATES = ("class", "expression", "delegateExpression", "type", "topic")
_FORM_KEY = re.compile(
    r"^(?:embedded:)?(?:app:|deployment:|camunda-forms:(?:app:|deployment:)?)?(?P<path>.+)$"
)


def is_camunda(content: bytes) -> bool:
    return CAMUNDA.encode() in content


def convert(content: bytes, vocabulary: Vocabulary) -> Conversion:
    """The converted diagram (UTF-8 XML) and its report. A diagram without Camunda extensions comes back
    byte for byte, with an empty report."""
    if not is_camunda(content):
        return Conversion(xml=content)
    try:
        root = etree.fromstring(content, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        raise NotADiagram(str(exc)) from exc
    if etree.QName(root).namespace != BPMN:
        raise NotADiagram("the root element is not a BPMN 2.0 <definitions>")
    converter = _Converter(vocabulary)
    for element in list(root.iter()):
        if isinstance(element.tag, str):
            converter.element(element)
    for element in list(root.iter(f"{{{CAMUNDA}}}*")):
        converter.camunda_element(element)
    root = _renamespaced(root)
    xml = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return Conversion(xml=xml, changes=converter.changes)


class _Converter:
    def __init__(self, vocabulary: Vocabulary) -> None:
        self.vocabulary = vocabulary
        self.changes: list[Change] = []

    # -- reporting ---------------------------------------------------------------------------------

    def _note(
        self, element: Any, outcome: str, construct: str, before: str, after: str, zh: str, en: str
    ) -> None:
        owner = _owner(element)
        self.changes.append(
            Change(
                element_id=owner.get("id", ""),
                element_name=owner.get("name", "") or owner.get("id", ""),
                outcome=outcome,
                construct=construct,
                before=before,
                after=after,
                reason={"zh-CN": zh, "en": en},
            )
        )

    # -- BPMN elements -----------------------------------------------------------------------------

    def element(self, element: Any) -> None:
        local = etree.QName(element).localname
        namespace = etree.QName(element).namespace
        if namespace == BPMN and local == "conditionExpression":
            self._expression(element, "conditionExpression")
        elif namespace == BPMN and local in ("timeDuration", "timeDate", "timeCycle"):
            self._timer(element, local)
        elif namespace == BPMN and local == "scriptTask":
            self._script(element)
        for name in [n for n in element.attrib if etree.QName(n).namespace == CAMUNDA]:
            self._attribute(element, etree.QName(name).localname, element.attrib.pop(name))

    def _attribute(self, element: Any, name: str, value: str) -> None:
        construct = f"camunda:{name}"
        if name in ("formKey", "formRef"):
            self._form(element, construct, value)
        elif name == "candidateGroups":
            self._groups(element, value)
        elif name in ("candidateUsers", "assignee"):
            self._user(element, construct, value)
        elif name == "dueDate":
            self._value_property(element, construct, value, "dueAt")
        elif name in _DELEGATES:
            self._note(
                element, "needs_hand", construct, value, "",
                "Java 委托或外部任务在本系统中不存在:请改为服务任务的算子(serviceTaskOperator)",
                "Java delegates and external tasks do not exist here: choose a service task operator",
            )  # fmt: skip
        elif name == "initiator":
            self._note(
                element, "dropped", construct, value, "",
                "发起人变量不会自动设置:流程可从任务数据中读取办理人",
                "the initiator variable is not set here: read who acted from the task data",
            )  # fmt: skip
        elif name in ("resultVariable", "errorCodeVariable", "errorMessageVariable"):
            self._note(
                element, "needs_hand", construct, value, "",
                "请在脚本中直接给该变量赋值", "assign the variable in the script itself",
            )  # fmt: skip
        elif name in _DROPPED_ATTRIBUTES:
            self._note(
                element, "dropped", construct, value, "",
                "Camunda 引擎的设置,在本系统中无作用", "a Camunda engine setting with no meaning here",
            )  # fmt: skip
        else:
            self._note(
                element, "needs_hand", construct, value, "",
                "不认识的 Camunda 属性,已移除:请确认是否需要",
                "an unknown Camunda attribute, removed: check it",
            )  # fmt: skip

    def _form(self, element: Any, construct: str, value: str) -> None:
        match = _FORM_KEY.match(value.strip())
        path = match.group("path") if match else value
        name = path.rsplit("/", 1)[-1].split(".", 1)[0]
        if self.vocabulary.has_form(name):
            filename = f"{name}.schema.json"
            _set_property(element, "formJsonSchemaFilename", filename)
            self._note(
                element, "converted", construct, value, f"formJsonSchemaFilename = {filename}",
                f"表单引用改为表单库中的 {filename}", f"the form reference now names {filename} in forms/",
            )  # fmt: skip
        else:
            self._note(
                element, "needs_hand", construct, value, "",
                f"表单库中没有名为 {name} 的表单:请在表单设计器中新建,或选择已有表单",
                f"forms/ has no form named {name}: create it in the form editor or choose an existing one",
            )  # fmt: skip

    def _groups(self, element: Any, value: str) -> None:
        construct = "camunda:candidateGroups"
        if juel.is_expression(value):
            self._note(
                element, "needs_hand", construct, value, "",
                "候选组是表达式:请在属性面板中选择角色或单位",
                "the candidate groups are an expression: choose roles or a unit in the properties panel",
            )  # fmt: skip
            return
        names = [n.strip() for n in value.split(",") if n.strip()]
        roles = [n for n in names if n in self.vocabulary.roles]
        units = [n for n in names if n in self.vocabulary.units and n not in roles]
        unknown = [n for n in names if n not in roles and n not in units]
        if roles:
            _set_property(element, "candidateRoles", ",".join(roles))
            self._note(
                element, "converted", construct, value, f"candidateRoles = {','.join(roles)}",
                "候选组改为候选角色", "the candidate groups are now candidate roles",
            )  # fmt: skip
        if len(units) == 1 and not roles:
            _set_property(element, "candidateGroup", repr(units[0]))
            self._note(
                element, "converted", construct, value, f"candidateGroup = {units[0]!r}",
                "候选组改为责任单位", "the candidate group is now a unit",
            )  # fmt: skip
        elif units:
            unknown += units
        if unknown:
            self._note(
                element, "needs_hand", construct, ",".join(unknown), "",
                f"不是本系统的角色或(唯一的)单位:{','.join(unknown)}",
                f"not a role or a single unit of this system: {','.join(unknown)}",
            )  # fmt: skip

    def _user(self, element: Any, construct: str, value: str) -> None:
        if construct == "camunda:candidateUsers" and "," in value:
            self._note(
                element, "needs_hand", construct, value, "",
                "本系统的任务只能指定一名候选人:请改用候选角色,或只保留一人",
                "a task here names one candidate user: use candidate roles or keep one person",
            )  # fmt: skip
            return
        self._value_property(element, construct, value, "candidateUser")

    def _value_property(self, element: Any, construct: str, value: str, prop: str) -> None:
        """A property whose value is a Python expression: ``${x}`` converts, a literal is quoted."""
        try:
            python = juel.to_python(value) if juel.is_expression(value) else repr(value.strip())
        except juel.NotConvertible as exc:
            self._note(
                element, "needs_hand", construct, value, "",
                f"表达式无法自动转换({exc}):请用 Python 表达式改写",
                f"cannot convert ({exc}): rewrite in Python",
            )  # fmt: skip
            return
        _set_property(element, prop, python)
        self._note(
            element, "converted", construct, value, f"{prop} = {python}",
            f"改为属性 {prop}(Python 表达式)", f"now the {prop} property (a Python expression)",
        )  # fmt: skip

    def _expression(self, element: Any, construct: str) -> None:
        text = element.text or ""
        language = (element.get("language") or "").lower()
        if language and language != "python":
            self._note(
                element, "needs_hand", f"{construct} ({language})", text, "",
                f"{language} 条件无法执行:条件是 Python 表达式,请改写",
                f"{language} conditions cannot run: conditions are Python expressions, rewrite it",
            )  # fmt: skip
            return
        if not juel.is_expression(text):
            return  # already Python (or empty): the deploy checks it
        try:
            python = juel.to_python(text)
        except juel.NotConvertible as exc:
            self._note(
                element, "needs_hand", construct, text, "",
                f"JUEL 表达式无法自动转换({exc}):条件是 Python 表达式,请改写",
                f"cannot convert this JUEL ({exc}): conditions are Python expressions, rewrite it",
            )  # fmt: skip
            return
        element.text = python
        element.attrib.pop(f"{{{XSI}}}type", None)
        self._note(
            element, "converted", construct, text, python,
            "JUEL 条件改写为 Python 表达式", "the JUEL condition is now a Python expression",
        )  # fmt: skip

    def _timer(self, element: Any, construct: str) -> None:
        text = (element.text or "").strip()
        if not text:
            return
        if juel.is_expression(text):
            self._expression(element, construct)
            return
        # Our timer values are Python expressions: Camunda's literal PT2H / ISO date is a string here.
        element.text = repr(text)
        element.attrib.pop(f"{{{XSI}}}type", None)
        self._note(
            element, "converted", construct, text, repr(text),
            "定时器的固定值加上引号(定时器的值是 Python 表达式)",
            "the timer's literal value is quoted (timer values are Python expressions)",
        )  # fmt: skip

    def _script(self, element: Any) -> None:
        language = (element.get("scriptFormat") or "python").lower()
        if language == "python":
            element.attrib.pop("scriptFormat", None)
            return
        script = element.find(f"{{{BPMN}}}script")
        source = (script.text or "") if script is not None else ""
        self._note(
            element, "needs_hand", f"script ({language})", source, "",
            f"{language} 脚本无法执行:脚本用 Python 编写(沙箱规则见设计文档),请改写后再部署",
            f"{language} scripts cannot run: scripts are Python (sandboxed); rewrite it before deploying",
        )  # fmt: skip

    # -- camunda:* extension elements ------------------------------------------------------------------

    def camunda_element(self, element: Any) -> None:
        parent = element.getparent()
        if parent is None or etree.QName(parent).namespace == CAMUNDA:
            return  # nested inside another camunda element: reported with it
        local = etree.QName(element).localname
        construct = f"camunda:{local}"
        before = _text_of(element)
        if local == "properties":
            for item in element.findall(f"{{{CAMUNDA}}}property"):
                owner_extensions = parent
                _properties_of(owner_extensions).append(
                    _spiff_property(item.get("name", ""), item.get("value", ""))
                )
            self._note(
                element, "converted", construct, before, "spiffworkflow:properties",
                "扩展属性原样保留", "the extension properties are kept as they are",
            )  # fmt: skip
        else:
            reasons = {
                "inputOutput": (
                    "输入/输出映射:请用前置/后置脚本实现",
                    "input/output mapping: use pre/post scripts",
                ),
                "executionListener": (
                    "执行监听器:请改为脚本任务或服务任务",
                    "execution listener: use a task",
                ),
                "taskListener": ("任务监听器:请改为脚本任务或服务任务", "task listener: use a task"),
                "in": ("调用活动的变量传入:被调流程读取调用方的全部数据", "call activity input mapping"),
                "out": ("调用活动的变量传出:请在被调流程结束前设置变量", "call activity output mapping"),
                "field": ("Java 委托的字段注入", "a Java delegate's field injection"),
                "formData": (
                    "生成式表单:请在表单设计器中新建表单",
                    "generated form: build it in the form editor",
                ),
            }
            zh, en = reasons.get(local, ("Camunda 扩展,已移除", "a Camunda extension, removed"))
            self._note(element, "needs_hand", construct, before, "", zh, en)
        parent.remove(element)
        if etree.QName(parent).localname == "extensionElements" and len(parent) == 0:
            parent.getparent().remove(parent)


def _owner(element: Any) -> Any:
    """The nearest ancestor (or self) with an id: the element a person knows by name."""
    node = element
    while node is not None:
        if (
            isinstance(node.tag, str)
            and node.get("id")
            and etree.QName(node).namespace == BPMN
            and not etree.QName(node).localname.endswith("EventDefinition")
        ):
            return node
        node = node.getparent()
    return element


def _text_of(element: Any) -> str:
    return etree.tostring(element, encoding="unicode", with_tail=False).strip()[:500]


def _extension_elements(element: Any) -> Any:
    extensions = element.find(f"{{{BPMN}}}extensionElements")
    if extensions is None:
        extensions = etree.Element(f"{{{BPMN}}}extensionElements")
        element.insert(0, extensions)
        # BPMN wants extensionElements after documentation.
        documentation = element.find(f"{{{BPMN}}}documentation")
        if documentation is not None:
            element.remove(extensions)
            documentation.addnext(extensions)
    return extensions


def _properties_of(extensions_or_element: Any) -> Any:
    if etree.QName(extensions_or_element).localname != "extensionElements":
        extensions_or_element = _extension_elements(extensions_or_element)
    properties = extensions_or_element.find(f"{{{SPIFF}}}properties")
    if properties is None:
        properties = etree.SubElement(extensions_or_element, f"{{{SPIFF}}}properties")
    return properties


def _spiff_property(name: str, value: str) -> Any:
    item = etree.Element(f"{{{SPIFF}}}property")
    item.set("name", name)
    item.set("value", value)
    return item


def _set_property(element: Any, name: str, value: str) -> None:
    properties = _properties_of(element)
    for item in properties.findall(f"{{{SPIFF}}}property"):
        if item.get("name") == name:
            item.set("value", value)
            return
    properties.append(_spiff_property(name, value))


def _renamespaced(root: Any) -> Any:
    """The tree without the camunda namespace declaration and with ours declared on the root."""
    namespaces = {prefix: uri for prefix, uri in root.nsmap.items() if uri != CAMUNDA}
    namespaces.setdefault(_SPIFF_PREFIX, SPIFF)
    new_root = etree.Element(root.tag, attrib=dict(root.attrib), nsmap=namespaces)
    new_root.text = root.text
    for child in root:
        new_root.append(child)
    etree.cleanup_namespaces(new_root, top_nsmap=namespaces, keep_ns_prefixes=[_SPIFF_PREFIX])
    return new_root
