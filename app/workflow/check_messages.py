"""Deploy problems in the reader's language: zh-CN first, English on request.

A problem's ``reason`` is English and stable (tools and tests match it); people read ``message``. Each
pattern below matches one kind of reason and says it in Chinese with the same details; the SpiffWorkflow
parser's refusals are said by ``parser_problems``; a reason nobody knows is shown as it is."""

from __future__ import annotations

import re

from app.workflow import parser_problems
from app.workflow.notices import in_language

_WHAT = {
    "script": "脚本",
    "pre-script": "前置脚本",
    "post-script": "后置脚本",
    "condition": "条件",
    "timer": "定时器",
}


def _what(text: str) -> str:
    if text in _WHAT:
        return _WHAT[text]
    parameter = re.fullmatch(r"parameter '(.+)'", text)
    if parameter:
        return f"参数 {parameter.group(1)}"
    prop = re.fullmatch(r"property '(.+)'", text)
    return f"属性 {prop.group(1)}" if prop else text


_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.DOTALL), template)
    for pattern, template in (
        (r"user task has no '(?P<a>.+)' property", "用户任务缺少属性 {a}"),
        (r"start event has no '(?P<a>.+)' property", "开始事件缺少属性 {a}"),
        (
            r"only one start event of a process may declare a start form",
            "一个流程只能有一个开始事件声明发起表单",
        ),
        (
            r"a start form belongs on a plain start event .*",
            "发起表单只能写在普通开始事件上(不能是消息、定时或信号开始事件)",
        ),
        (r"startsCase must be true or false, not '(?P<a>.*)'", "startsCase 只能是 true 或 false,不能是 {a}"),
        (
            r"startsCase is true but the start event has no 'caseCategory'",
            "startsCase 为 true 时须给出 caseCategory",
        ),
        (r"caseCategory is given but startsCase is not true", "给出了 caseCategory,但 startsCase 不是 true"),
        (r"form '(?P<a>.+)' does not exist in forms/", "表单库中没有表单 {a}"),
        (r"unknown role\(s\) in candidateRoles: (?P<a>.+)", "候选角色中有本系统不存在的角色:{a}"),
        (r"unknown service-task operator '(?P<a>.+)'", "本系统没有服务任务算子 {a}"),
        (r"(?P<what>.+?) is not allowed: (?P<a>.+)", "{what}不能通过检查:{a}"),
        (
            r"script language '(?P<a>.+)' cannot run: .*",
            "{a} 脚本无法执行:脚本须用 Python 编写(可通过 Camunda 转换导入后改写)",
        ),
        (
            r"timer value (?P<a>\S+) is not quoted: .*",
            "定时器的值 {a} 没有加引号:定时器的值是 Python 表达式,固定值请写作 '{a}'",
        ),
        (r"timer value (?P<a>.+) is not text .*", "定时器的值 {a} 不是文本(ISO 8601 日期、时长或周期)"),
        (
            r"timer value (?P<a>.+) is not an ISO 8601 .*",
            "定时器的值 {a} 不是有效的 ISO 8601 日期、时长或周期",
        ),
        (r"unit test '(?P<a>.+)': its JSON is not valid \((?P<b>.+)\)", "单元测试 {a} 的 JSON 无效({b})"),
        (r"unit test '(?P<a>.+)' failed: the script raised (?P<b>.+)", "单元测试 {a} 未通过:脚本出错 {b}"),
        (
            r"unit test '(?P<a>.+)' failed: expected (?P<b>.+), got (?P<c>.+)",
            "单元测试 {a} 未通过:期望 {b},实际 {c}",
        ),
        (r"decision table input (?P<a>\d+) has no expression", "决策表第 {a} 个输入没有输入表达式"),
        (
            r"decision table output (?P<a>\d+) has no name .*",
            "决策表第 {a} 个输出没有名称(决策结果写入的变量名)",
        ),
        (
            r"decision table (?P<a>.+?): (?P<b>.+) starts with a word, .*: write it with \? for the input "
            r"\((?P<c>.+)\)",
            "决策表 {a}:{b} 以单词开头,引擎会把它与输入表达式直接拼接(中间没有空格):请用 ? 代表输入,写作 {c}",
        ),
        (
            r"decision table (?P<a>.+?): (?P<b>.+) is not a Python expression \(FEEL.*",
            "决策表 {a}:{b} 不是 Python 表达式(FEEL 区间如 [1..3] 请写作 1 <= ? <= 3)",
        ),
        (
            r"decision table (?P<a>.+?): (?P<b>.+) is not a Python expression",
            "决策表 {a}:{b} 不是 Python 表达式",
        ),
        (
            r"this message event keeps no payload: .*",
            "该消息事件不保存消息内容:如需保留消息携带的数据,请设置 messageVariable",
        ),
        (
            r"the process never closes its case .*",
            "流程中没有结案步骤(case.finish):它办理的案件将一直处于未结状态",
        ),
        (
            r"calledElementBinding '(?P<a>.*)' is not one of: .*",
            "调用活动的版本绑定 calledElementBinding 只能是 deployment(随部署)"
            "或 latest(调用时最新),不能是 {a}",
        ),
        (r"not well-formed XML: (?P<a>.+)", "XML 格式错误:{a}"),
        (
            r'no executable process \(isExecutable="true"\) in the file',
            '文件中没有可执行的流程(isExecutable="true")',
        ),
    )
)


def in_chinese(reason: str) -> str:
    for pattern, template in _PATTERNS:
        match = pattern.fullmatch(reason)
        if match:
            parts = match.groupdict()
            if "what" in parts:
                parts["what"] = _what(parts["what"])
            return template.format(**parts)
    return parser_problems.in_chinese(reason) or reason


def in_reader_language(reason: str) -> str:
    return in_language({"zh-CN": in_chinese(reason), "en": reason})
