"""Plans for the demo's historic cases: what each report says, where, by whom, when, and how it ends.

A plan is a pure function of the seed, the territory, the cast and the category catalogue: the same seed
gives the same titles, places, categories and outcomes. The walker (``app.demo.walker``) plays each plan
through the real services."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from app.demo.people import Cast

DAYS = 90  # how far back the history goes
RECENT_SHARE = 0.1
FRESH_SHARE = 0.03
STALE_DAYS = 21  # older cases all end; the overdue ones still open are from the last three weeks
CHINA = timedelta(hours=8)  # Asia/Shanghai has no daylight saving time

# outcome → weight. Closed on time dominates, as in a district that works; cases reported in the last few
# days are still open whatever their plan says, because their next step lies in the future.
OUTCOMES: dict[str, int] = {
    "closed_on_time": 57,
    "closed_late": 6,  # handled after the limit: overdue, the community coordinates, then closed
    "rework": 8,  # review sends it back once
    "rejected": 6,
    "duplicate": 4,
    "withdrawn": 2,
    "overdue": 4,  # the handler never reports back: overdue, escalated to the community, still open
    "urged": 3,  # overdue; the community returns it to the handler with a push; then closed
    "reassigned": 3,  # overdue; the community hands it to another worker; then closed
    "escalated": 7,  # the handler declares it beyond the grid's means: coordination, units summoned
}
# source channel → weight (the seeds: grid workers' patrols first, then residents and the hotline)
SOURCES: dict[str, int] = {
    "grid_worker": 45,
    "resident": 22,
    "hotline": 14,
    "camera": 9,
    "sensor": 5,
    "web": 5,
}
# category → weight; categories not listed weigh 1 (resident message mix of seed 000, GB/T 30428 practice)
CATEGORY_WEIGHTS: dict[str, int] = {
    "E0102": 14, "E0104": 7, "E0103": 5, "E0201": 8, "E0502": 6, "E0504": 6, "E0503": 5, "E0501": 4,
    "E0101": 4, "E0106": 3, "E0301": 3, "E0304": 3, "E0505": 3, "E1001": 4, "E1002": 3, "E1004": 4,
    "E1005": 3, "E1101": 3, "E1201": 3, "E1202": 2, "P0101": 3, "P0102": 3, "P0106": 3, "P0301": 3,
    "P0401": 2, "P0502": 2, "E0405": 2, "E0406": 2,
}  # fmt: skip
# Used when the catalogue is empty (it is loaded before the cases, so only if its file is missing).
FALLBACK_CATEGORIES: list[tuple[str, str, str]] = [
    ("E0102", "暴露垃圾", "yellow"),
    ("E0104", "道路不洁", "blue"),
    ("E0201", "非法小广告", "blue"),
    ("E0502", "店外经营", "yellow"),
    ("E0504", "非机动车乱停放", "blue"),
    ("P0101", "上水井盖", "orange"),
]
TITLES: dict[str, list[str]] = {
    "E0101": ["商铺外私搭雨棚占用人行道", "楼顶违章搭建板房", "小区绿地内私搭棚屋"],
    "E0102": ["小区门口垃圾满溢", "路边垃圾堆放未清运", "垃圾桶周边散落垃圾", "绿化带内堆放生活垃圾"],
    "E0103": ["建筑垃圾堆放在路边", "渣土堆积未清运"],
    "E0104": ["路面油污未清理", "人行道泥土覆盖", "道路落叶堆积"],
    "E0105": ["河道水面漂浮垃圾", "沟渠水面有油污"],
    "E0106": ["绿地内杂物堆积", "花坛内垃圾较多"],
    "E0201": ["电杆上张贴小广告", "楼道墙面喷涂小广告", "公交站台贴满小广告"],
    "E0202": ["路灯杆违规悬挂横幅"],
    "E0301": ["夜间施工噪声扰民", "工地清晨施工扰民"],
    "E0302": ["施工围挡占用车行道"],
    "E0303": ["渣土车沿路遗撒"],
    "E0304": ["工地扬尘未覆盖", "工地出入口扬尘严重"],
    "E0401": ["路面出现塌陷坑"],
    "E0402": ["供水管道爆裂路面冒水"],
    "E0403": ["居民反映闻到燃气味"],
    "E0404": ["楼道电动车充电有火灾隐患", "消防通道堆放杂物"],
    "E0405": ["雨后路口积水严重", "下穿通道积水"],
    "E0406": ["污水井冒溢", "化粪池污水外溢到路面"],
    "E0501": ["流动摊贩占道经营", "校门口游商聚集"],
    "E0502": ["餐馆店外摆放桌椅", "水果店出店经营"],
    "E0503": ["机动车占用消防通道停放", "人行道上乱停机动车"],
    "E0504": ["共享单车堆放堵塞人行道", "地铁口非机动车乱停"],
    "E0505": ["夜间露天烧烤油烟扰民"],
    "E1001": ["小区突然停水", "高层住户水压不足"],
    "E1002": ["单元楼停电", "路口配电箱跳闸停电"],
    "E1003": ["小区停气未通知"],
    "E1004": ["电梯运行异响", "电梯困人"],
    "E1005": ["化粪池满溢", "化粪池盖板破损"],
    "E1101": ["独居老人多日未出门", "独居老人需要上门探访"],
    "E1102": ["老人摔倒呼救"],
    "E1103": ["独居老人家中漏水告警"],
    "E1201": ["邻里噪声纠纷", "楼上漏水引发邻里纠纷"],
    "E1202": ["业主与物业停车收费纠纷"],
    "E1203": ["工人讨要拖欠工资"],
    "P0101": ["人行道上水井盖松动", "上水井盖缺失"],
    "P0102": ["污水井盖破损", "污水井盖下沉"],
    "P0103": ["电力井盖破损"],
    "P0104": ["燃气井盖松动"],
    "P0105": ["消防栓漏水", "消防栓被车辆撞坏"],
    "P0106": ["路灯不亮", "路灯杆倾斜"],
    "P0201": ["交通信号灯故障"],
    "P0202": ["交通标志牌被遮挡"],
    "P0203": ["道路护栏损坏"],
    "P0204": ["公交站亭玻璃破损"],
    "P0301": ["垃圾箱破损", "果皮箱缺失"],
    "P0302": ["公共厕所设施损坏"],
    "P0401": ["行道树倒伏", "行道树枝条遮挡路灯"],
    "P0402": ["绿地被踩踏破坏"],
    "P0502": ["楼道灯损坏", "单元门门禁损坏"],
    "P0601": ["电梯按钮失灵"],
    "P0602": ["小区监控摄像头损坏"],
    "P0603": ["健身器材损坏"],
}
ROADS = (
    "望丛东路",
    "望丛中路",
    "团结路",
    "郫筒北路",
    "蜀都大道",
    "南大街",
    "东大街",
    "书院街",
    "德源北路",
    "校园路",
)
REJECT_REASONS = (
    "经核实不属于城市管理范围",
    "上报内容不实,现场未发现问题",
    "属于私人合同纠纷,建议通过司法途径解决",
)
WITHDRAW_REASONS = ("问题已自行解决", "误报,撤回上报")
REVIEW_COMMENTS = ("现场仍有残留,需彻底清理", "照片未反映处置后全貌,请补充处置", "处置不彻底,请返工")
HANDLE_NOTES = (
    "已到场处置完毕,现场恢复正常",
    "已联系责任人整改,现场已清理",
    "已安排人员处置,问题已解决",
    "已现场劝导并整改到位",
)


@dataclass(frozen=True)
class Place:
    lat: float
    lon: float
    grid: str  # the comprehensive grid containing the point
    address: str


@dataclass(frozen=True)
class CasePlan:
    index: int
    seed: str  # seeds the per-case random draws of the walker
    reported_at: datetime
    title: str
    description: str
    category_code: str
    severity: str
    source_channel: str
    reporter: str
    place: Place
    outcome: str
    duplicate_of: int | None = None  # index of an earlier plan


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _point_in(rng: random.Random, box: list[float], margin: float = 0.15) -> tuple[float, float]:
    west, south, east, north = box
    lon = west + (east - west) * rng.uniform(margin, 1 - margin)
    lat = south + (north - south) * rng.uniform(margin, 1 - margin)
    return round(lat, 6), round(lon, 6)


def _box(feature: dict[str, Any]) -> list[float]:
    ring = feature["geometry"]["coordinates"][0]
    lons, lats = [p[0] for p in ring], [p[1] for p in ring]
    return [min(lons), min(lats), max(lons), max(lats)]


class PlacePicker:
    """Points inside the territory: in a building, a compound, or on a road of a comprehensive grid."""

    def __init__(self, territory: dict[str, Any]) -> None:
        self.features = {f["properties"]["code"]: f for f in territory["features"]}
        self.grids = sorted(c for c, f in self.features.items() if f["properties"]["level"] == "grid")
        self.children: dict[str, list[str]] = {}
        for code in sorted(self.features):
            self.children.setdefault(code[:-3], []).append(code)

    def pick(self, rng: random.Random, grid: str) -> Place:
        community = self.features[grid[:12]]["properties"]["name"]
        compounds = self.children.get(grid, [])
        roll = rng.random()
        if compounds and roll < 0.75:
            compound = rng.choice(compounds)
            compound_name = self.features[compound]["properties"]["name"]
            buildings = self.children.get(compound, [])
            if buildings and roll < 0.45:
                building = rng.choice(buildings)
                lat, lon = _point_in(rng, _box(self.features[building]))
                name = self.features[building]["properties"]["name"]
                return Place(lat, lon, grid, f"郫都区{community}{compound_name}{name}")
            lat, lon = _point_in(rng, _box(self.features[compound]))
            return Place(
                lat, lon, grid, f"郫都区{community}{compound_name}{rng.choice(('北门', '南门', '东门'))}"
            )
        lat, lon = _point_in(rng, _box(self.features[grid]), margin=0.02)
        return Place(lat, lon, grid, f"郫都区{rng.choice(ROADS)}{rng.randint(1, 300)}号")


def _report_time(rng: random.Random, end: datetime) -> datetime:
    """A moment in the last ``DAYS`` days, in waking hours (07:00-20:59 Beijing time), before ``end``."""
    roll = rng.random()
    if roll < FRESH_SHARE:  # just in: not triaged yet, whatever the hour (the hotline never sleeps)
        return end - timedelta(minutes=rng.uniform(5, 240))
    while True:
        # One report in ten falls in the last two days, so today's inboxes have work at every step.
        day = end - timedelta(days=rng.uniform(0, DAYS if roll >= RECENT_SHARE else 2))
        local = (day + CHINA).replace(
            hour=rng.randint(7, 20), minute=rng.randint(0, 59), second=0, microsecond=0
        )
        when = local - CHINA
        if when < end - timedelta(minutes=30):
            return when


def make_plans(
    count: int,
    seed: int,
    end: datetime,
    cast: Cast,
    territory: dict[str, Any],
    categories: list[tuple[str, str, str]],
) -> list[CasePlan]:
    """``count`` plans in the order they were reported. ``categories``: (code, name, default severity) of the
    active sub-classes of the catalogue."""
    rng = random.Random(f"cases-{seed}")
    picker = PlacePicker(territory)
    catalogue = categories or FALLBACK_CATEGORIES
    weights = [CATEGORY_WEIGHTS.get(code, 1) for code, _, _ in catalogue]
    # Busy grids get more reports: a stable weight per grid drawn from the seed.
    grid_weights = [rng.randint(2, 6) for _ in picker.grids]
    times = sorted(_report_time(rng, end) for _ in range(count))
    plans: list[CasePlan] = []
    for index, reported_at in enumerate(times):
        code, name, severity = rng.choices(catalogue, weights=weights)[0]
        grid = rng.choices(picker.grids, weights=grid_weights)[0]
        place = picker.pick(rng, grid)
        source = _weighted(rng, SOURCES)
        outcome = _weighted(rng, OUTCOMES)
        duplicate_of = None
        title = rng.choice(TITLES.get(code, [name]))
        if outcome == "duplicate":
            earlier = [p for p in plans if p.place.grid == grid and p.outcome != "duplicate"] or plans
            if earlier:
                original = rng.choice(earlier[-8:])
                duplicate_of, code, severity = original.index, original.category_code, original.severity
                title, place = original.title, original.place
            else:
                outcome = "closed_on_time"
        if source in ("resident", "web"):
            reporter = rng.choice(cast.residents) if source == "resident" else "dispatcher"
        elif source == "grid_worker":
            reporter = rng.choice(cast.workers_by_grid.get(grid) or ["dispatcher"])
        else:
            reporter = "dispatcher"  # hotline calls, camera and sensor alarms come in through the centre
        if outcome == "overdue" and reported_at < end - timedelta(days=STALE_DAYS):
            outcome = "urged"  # a case forgotten for weeks would not be believable: it was pushed and closed
        if outcome == "withdrawn" and source != "resident":
            outcome = "closed_on_time"  # only a resident withdraws their own report
        if rng.random() < 0.12 and severity != "red":
            severity = {"blue": "yellow", "yellow": "orange", "orange": "red"}[severity]
        plans.append(
            CasePlan(
                index=index,
                seed=f"{seed}-{index}",
                reported_at=reported_at,
                title=title,
                description=_description(rng, title, place, source),
                category_code=code,
                severity=severity,
                source_channel=source,
                reporter=reporter,
                place=place,
                outcome=outcome,
                duplicate_of=duplicate_of,
            )
        )
    return plans


def _description(rng: random.Random, title: str, place: Place, source: str) -> str:
    lead = {
        "grid_worker": "巡查发现",
        "resident": "居民反映",
        "hotline": "12345热线转来",
        "camera": "视频监控智能识别",
        "sensor": "物联感知设备告警",
        "web": "网上留言反映",
    }[source]
    tail = rng.choice(("请尽快处置。", "影响周边居民出行。", "已持续数日。", "现场有照片。"))
    return f"{lead}:{place.address}{title},{tail}"
