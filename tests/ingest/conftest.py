"""Fixtures for the ingestion tests: small hand-written documents."""

from __future__ import annotations

import pytest

DOC_BOND = """---
doc_id: t-bond
title: 工业用地履约保证金管理办法（测试）
issuer: 昆山市自然资源和规划局
published: 2024-06-20
expires: 2027-06-19
category: land
---

第一条 为督促工业用地受让人全面履行土地出让合同，制定本办法。

第二条 履约保证金按土地出让总价款的20%缴纳，最低不少于50万元。

第三条 项目按约定时间开工的，返还履约保证金的30%；竣工验收合格的，再返还30%。
"""

DOC_STATION = """---
doc_id: t-station
title: 企业服务驿站常见问答（测试）
issuer: 昆山市行政审批局
category: service
---

问：巴城企业综合服务驿站可以办理哪些自助事项？
答：可办理营业执照打印、医保查询等160余项自助事项。

问：驿站的服务时间是什么？
答：工作日9:00至17:00提供人工服务，自助终端24小时开放。
"""

DOC_TALENT = """---
doc_id: t-talent
title: 青年人才生活补贴办法（测试）
issuer: 昆山市人力资源和社会保障局
published: 2025-03-01
category: talent
---

一、补贴对象
在本市企业就业并缴纳社会保险的全日制本科及以上学历毕业生。

二、补贴标准
博士每月补贴3000元，硕士每月补贴1500元，本科每月补贴800元，最长发放36个月。
"""

STATION_EDIT = """
问：参加境外展会有补贴吗？
答：企业参加境外展会的，按展位费的50%给予补贴，单个企业每年最高20万元。
"""


@pytest.fixture
def small_docs() -> dict[str, str]:
    """Three small Markdown policies (about a dozen chunks in all) keyed by file name."""
    return {"bond.md": DOC_BOND, "station.md": DOC_STATION, "talent.md": DOC_TALENT}


@pytest.fixture
def station_edit() -> str:
    """A Q&A pair appended to station.md to make version 2."""
    return STATION_EDIT
