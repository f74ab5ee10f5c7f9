"""What a migration answers people, per result code: zh-CN first, English when asked (``lang="en"``)."""

from __future__ import annotations

from typing import Any

# code -> (zh-CN, en); fields: element_id, element_name, to_version, from_version, status, process_key,
# error, until
MESSAGES: dict[str, tuple[str, str]] = {
    "movable": ("可以迁移到 v{to_version}", "can be migrated to v{to_version}"),
    "migrated": ("已迁移到 v{to_version}", "migrated to v{to_version}"),
    "active_removed": (
        "当前所在环节「{element_name}」({element_id})在 v{to_version} 中已不存在",
        "its active element '{element_name}' ({element_id}) no longer exists in v{to_version}",
    ),
    "active_changed_kind": (
        "当前所在环节「{element_name}」({element_id})在 v{to_version} 中变成了另一种元素，无法对应",
        "its active element '{element_name}' ({element_id}) became another kind of element in v{to_version}"
        " and cannot be mapped",
    ),
    "history_removed": (
        "已经过的环节「{element_name}」({element_id})在 v{to_version} 中已删除，实例的历史无法对应",
        "an element it has passed, '{element_name}' ({element_id}), was removed in v{to_version}: its history"
        " cannot be mapped",
    ),
    "subprocess_removed": (
        "已进入的子流程「{element_name}」({element_id})在 v{to_version} 中已不存在",
        "the sub-process it entered, '{element_name}' ({element_id}), no longer exists in v{to_version}",
    ),
    "structure_changed": (
        "已经过的环节「{element_name}」({element_id})周围的结构在 v{to_version} 中已改变"
        "(例如删除了它的边界事件)，实例的历史无法对应",
        "the structure around an element it has passed, '{element_name}' ({element_id}), changed in"
        " v{to_version} (its boundary event was removed, say): its history cannot be mapped",
    ),
    "same_version": ("实例已在 v{to_version}", "the instance is already on v{to_version}"),
    "finished": ("实例已结束({status})，无需迁移", "the instance has ended ({status}): nothing to migrate"),
    "other_process": (
        "实例属于另一个流程({process_key})",
        "the instance belongs to another process ({process_key})",
    ),
    "forbidden": (
        "流程设计员只能迁移不属于案件的实例，请联系系统管理员",
        "designers may migrate only instances that belong to no case; ask an administrator",
    ),
    "failed": ("迁移失败：{error}", "the migration failed: {error}"),
    "undone": (
        "已撤销迁移，实例回到 v{from_version}",
        "migration undone: the instance is back on v{from_version}",
    ),
    "already_undone": ("该迁移已撤销", "this migration has been undone already"),
    "superseded": (
        "实例在此之后又被迁移过，只能撤销最近一次迁移",
        "the instance was migrated again since: only its latest migration can be undone",
    ),
    "ended": (
        "实例已结束({status})，无法撤销迁移",
        "the instance has ended ({status}): the migration cannot be undone",
    ),
    "expired": ("撤销期限已过({until})", "the time to undo it ended at {until}"),
    "stepped": (
        "迁移后实例已继续运行(有任务完成、定时器或消息)，无法撤销",
        "the instance has moved on since the migration (a task, timer or message): it cannot be undone",
    ),
}


def message(code: str, lang: str = "zh-CN", **fields: Any) -> str:
    zh, en = MESSAGES[code]
    template = en if lang.lower().startswith("en") else zh
    return template.format_map(_Blank(fields))


class _Blank(dict[str, Any]):
    """Fields a message does not get read as empty, never a KeyError."""

    def __missing__(self, key: str) -> str:
        return ""
