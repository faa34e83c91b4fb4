"""Made-up resume and job-description paragraphs in English and Chinese, drawn from small pools
with a seeded `random.Random`. The text reads like the real thing (sections, dated roles, bullet
points, skills) so tokenizers split it the way they split real resumes; none of it is real."""

from __future__ import annotations

import random
from collections.abc import Iterator

EN_FIRST = ["Alex", "Jordan", "Sam", "Taylor", "Morgan", "Casey", "Riley", "Jamie", "Avery"]
EN_LAST = ["Smith", "Garcia", "Chen", "Novak", "Okafor", "Silva", "Kowalski", "Brown", "Haddad"]
ZH_NAMES = ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊", "赵敏", "黄强", "周婷"]
EN_COMPANIES = ["Northwind Analytics", "Bluepeak Systems", "Lumen Logistics", "Orbit Health",
                "Cedar Financial", "Kestrel Robotics", "Harbor Retail Group", "Nimbus Cloud"]
ZH_COMPANIES = ["星河科技", "远航物流", "华信金融", "云帆软件", "博瑞医疗", "东方智能", "长城数据"]
EN_ROLES = ["Software Engineer", "Senior Backend Engineer", "Data Engineer", "ML Engineer",
            "Site Reliability Engineer", "Engineering Manager", "Full-Stack Developer"]
ZH_ROLES = ["软件工程师", "高级后端工程师", "数据工程师", "算法工程师", "运维开发工程师",
            "技术经理"]
SKILLS = ["Python", "Go", "Java", "Kubernetes", "PostgreSQL", "Kafka", "PyTorch", "gRPC",
          "Terraform", "AWS", "Redis", "Spark", "React", "TypeScript", "CI/CD", "Linux",
          "distributed systems", "observability", "system design", "SQL"]
EN_SCHOOLS = ["State University", "Institute of Technology", "Lakeside College"]
ZH_SCHOOLS = ["华东理工大学", "西南交通大学", "北方工业大学"]
EN_VERBS = ["Designed", "Built", "Led", "Migrated", "Optimised", "Automated", "Scaled",
            "Reduced", "Introduced", "Maintained", "Mentored", "Owned"]
EN_OBJECTS = ["the payment service", "a streaming ingestion pipeline", "the search backend",
              "our Kubernetes platform", "the data warehouse", "an internal feature store",
              "the release process", "the on-call rotation", "a recommendation model"]
EN_RESULTS = ["cutting p99 latency by {n}%", "saving ${n}K a year in cloud spend",
              "serving {n} million requests a day", "with {n} engineers across two teams",
              "raising test coverage to {n}%", "reducing incidents by {n}% quarter over quarter"]
ZH_VERBS = ["负责设计", "主导开发", "参与重构", "优化了", "搭建了", "推动落地", "维护"]
ZH_OBJECTS = ["支付系统", "实时数据管道", "搜索后端服务", "容器化平台", "数据仓库", "推荐模型",
              "发布流程", "监控告警体系"]
ZH_RESULTS = ["使接口延迟降低{n}%", "每年节省云成本{n}万元", "日均处理{n}百万次请求",
              "带领{n}人团队按期交付", "单元测试覆盖率提升至{n}%", "线上故障减少{n}%"]


def pieces(lang: str, rng: random.Random, *, job: bool) -> Iterator[str]:
    """An endless stream of paragraphs, each ending in a newline: a header first, then
    sections in a plausible order, repeating roles and projects for as long as asked."""
    if lang not in ("en", "zh"):
        raise ValueError(f"unknown language {lang!r}")
    if job:
        yield from (_job_en(rng) if lang == "en" else _job_zh(rng))
    else:
        yield from (_resume_en(rng) if lang == "en" else _resume_zh(rng))


def _n(rng: random.Random) -> int:
    return rng.randint(5, 95)


def _skills(rng: random.Random, k: int) -> str:
    return ", ".join(rng.sample(SKILLS, k))


def _resume_en(rng: random.Random) -> Iterator[str]:
    yield (f"{rng.choice(EN_FIRST)} {rng.choice(EN_LAST)}\n"
           f"{rng.choice(EN_ROLES)} | {rng.randint(2, 20)} years of experience\n\n")
    yield (f"Summary\nEngineer with a track record in {_skills(rng, 3)}. "
           f"Enjoys turning vague requirements into reliable systems.\n\n")
    yield f"Skills\n{_skills(rng, 8)}\n\n"
    year = 2025
    while True:
        start = year - rng.randint(1, 4)
        yield (f"{rng.choice(EN_ROLES)}, {rng.choice(EN_COMPANIES)} "
               f"({start}-{year})\n")
        for _ in range(rng.randint(3, 6)):
            result = rng.choice(EN_RESULTS).format(n=_n(rng))
            yield (f"- {rng.choice(EN_VERBS)} {rng.choice(EN_OBJECTS)} using "
                   f"{_skills(rng, 2)}, {result}.\n")
        yield "\n"
        year = start if start > 1990 else 2025
        if rng.random() < 0.15:
            yield (f"Education\nB.Sc. Computer Science, {rng.choice(EN_SCHOOLS)}, "
                   f"{year - rng.randint(0, 3)}\n\n")


def _resume_zh(rng: random.Random) -> Iterator[str]:
    yield f"{rng.choice(ZH_NAMES)}\n{rng.choice(ZH_ROLES)}｜{rng.randint(2, 20)}年工作经验\n\n"
    yield f"个人简介\n熟悉{_skills(rng, 3)}，善于把模糊的需求落地为稳定可靠的系统。\n\n"
    yield f"专业技能\n{_skills(rng, 8)}\n\n"
    year = 2025
    while True:
        start = year - rng.randint(1, 4)
        yield f"{rng.choice(ZH_COMPANIES)}　{rng.choice(ZH_ROLES)}（{start}年—{year}年）\n"
        for _ in range(rng.randint(3, 6)):
            result = rng.choice(ZH_RESULTS).format(n=_n(rng))
            yield (f"・{rng.choice(ZH_VERBS)}{rng.choice(ZH_OBJECTS)}，技术栈为"
                   f"{_skills(rng, 2)}，{result}。\n")
        yield "\n"
        year = start if start > 1990 else 2025
        if rng.random() < 0.15:
            yield f"教育背景\n{rng.choice(ZH_SCHOOLS)}　计算机科学学士（{year - 4}年）\n\n"


def _job_en(rng: random.Random) -> Iterator[str]:
    yield (f"{rng.choice(EN_ROLES)} at {rng.choice(EN_COMPANIES)}\n\n"
           "About the role\nYou will own services that thousands of customers rely on, "
           "work closely with product and data teams, and help us raise the bar on quality.\n\n")
    yield f"Requirements\n- {rng.randint(3, 8)}+ years building production software\n"
    while True:
        yield f"- Hands-on experience with {_skills(rng, 2)}\n"
        if rng.random() < 0.3:
            yield (f"- Nice to have: {_skills(rng, 1)}; you {rng.choice(EN_VERBS).lower()} "
                   f"{rng.choice(EN_OBJECTS)} before\n")


def _job_zh(rng: random.Random) -> Iterator[str]:
    yield (f"{rng.choice(ZH_COMPANIES)}招聘{rng.choice(ZH_ROLES)}\n\n"
           "岗位职责\n负责核心服务的设计与开发，与产品和数据团队紧密合作，持续提升系统质量。\n\n")
    yield f"任职要求\n- {rng.randint(3, 8)}年以上生产环境软件开发经验\n"
    while True:
        yield f"- 熟练掌握{_skills(rng, 2)}\n"
        if rng.random() < 0.3:
            yield (f"- 加分项：有{_skills(rng, 1)}相关经验，"
                   f"曾{rng.choice(ZH_VERBS)}{rng.choice(ZH_OBJECTS)}\n")
