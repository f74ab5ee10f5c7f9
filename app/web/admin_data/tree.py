"""The grid tree as the page draws it: district → street → community → comprehensive grid, each node with
how many grids lie below it (compounds and buildings are counted, not listed: a district has thousands)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select

from app.extensions import db
from app.grids.codes import LEVEL_LENGTHS
from app.grids.models import Grid

TREE_LEVELS = ("district", "street", "community", "grid")


@dataclass
class Node:
    code: str
    name: str
    level: str
    children: list[Node] = field(default_factory=list)
    below: int = 0  # compounds and buildings under a comprehensive grid


def grid_tree() -> list[Node]:
    """The tree's districts, each with its nodes down to the comprehensive grids (one query for the nodes,
    one for the counts of what lies below the grids)."""
    rows = db.session.execute(
        select(Grid.code, Grid.name, Grid.level).where(Grid.level.in_(TREE_LEVELS)).order_by(Grid.code)
    ).all()
    grid_length = LEVEL_LENGTHS["grid"]
    below: dict[str, int] = dict(
        db.session.execute(
            select(func.substr(Grid.code, 1, grid_length), func.count())
            .where(func.length(Grid.code) > grid_length)
            .group_by(func.substr(Grid.code, 1, grid_length))
        ).all()
    )
    nodes: dict[str, Node] = {}
    roots: list[Node] = []
    for code, name, level in rows:  # by code: every parent comes before its children
        node = Node(code, name, level, below=int(below.get(code, 0)))
        nodes[code] = node
        parent = nodes.get(code[:-3]) if len(code) > LEVEL_LENGTHS["district"] else None
        (parent.children if parent is not None else roots).append(node)
    return roots


def count_by_level() -> dict[str, int]:
    return dict(db.session.execute(select(Grid.level, func.count()).group_by(Grid.level)).all())
