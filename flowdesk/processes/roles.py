"""The roles of the shipped processes (candidate groups) and the simulated staff who hold them.

Roles are the groups of `PROCESSES.md`; the `*_manager` groups are the managers its rules
name (the sales manager an overdue filing escalates to, the market manager who approves
discounts, department managers who approve reading a customer archive). `leadership` is the
company leadership, the general manager among them.
"""

from __future__ import annotations

ROLES: dict[str, str] = {
    "sales": "销售部",
    "presales": "售前/方案",
    "finance": "财务",
    "legal": "法务",
    "order_center": "订单中心",
    "production": "生产中心",
    "production_tech": "生产技术部",
    "research": "研究所",
    "quality": "质量管理",
    "purchasing": "采购",
    "supply": "供应科及厂供应",
    "leadership": "公司领导",
    "chief_engineer": "总工",
    "consultant": "咨询顾问",
    "market": "市场部",
    "customer": "客户",
    "sales_manager": "销售部经理",
    "market_manager": "市场部经理",
    "presales_manager": "售前部经理",
    "consultant_manager": "咨询部经理",
}
"""Every group the shipped processes offer tasks to, with its Chinese name."""

STAFF: dict[str, tuple[str, ...]] = {
    "sam": ("sales",),
    "sally": ("sales", "sales_manager"),
    "paula": ("presales",),
    "fiona": ("finance",),
    "leo": ("legal",),
    "olga": ("order_center",),
    "pete": ("production",),
    "tina": ("production_tech",),
    "rita": ("research",),
    "quinn": ("quality",),
    "percy": ("purchasing",),
    "sue": ("supply",),
    "lee": ("leadership",),
    "chen": ("chief_engineer",),
    "connie": ("consultant",),
    "carl": ("consultant", "consultant_manager"),
    "mark": ("market",),
    "max": ("market", "market_manager"),
    "cathy": ("customer",),
}
"""Simulated users, one or two per role: the demo's cast and the tests' users.

Pass it as the engine's `groups`. Nobody holds two working roles, so a test that a task
refuses the wrong role means something.
"""
