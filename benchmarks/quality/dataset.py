"""The labelled screening set: load `data/labels.json` and expand it into the items to screen.

An item is one (job, resume text) pair to score. The base items are the graded resumes; the
variants are made here, from the stored text, so a pair differs only by what the variant
changes:
- name swap: the resume's `{{name}}` / `{{email}}` / `{{pronouns}}` placeholders filled with one
  of its assigned names (the first assigned name fills the base item);
- injection: the manifest's text inserted verbatim at the end of the anchor line (or at the end
  of the resume), so removing it gives the clean resume back.

Item ids: "job/r01" (base), "job/r01@white_f" (name swap), "job/r02!inj" (injection).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
PLACEHOLDERS = ("{{name}}", "{{email}}", "{{pronouns}}")


@dataclass(frozen=True)
class Person:
    key: str
    name: str
    email: str  # local part of the e-mail address
    sex: str
    race: str


@dataclass(frozen=True)
class Item:
    id: str
    job: str
    resume: str  # "job/r01": the base resume this item is made from
    grade: int
    language: str
    text: str
    kinds: tuple[str, ...] = ()
    person: Person | None = None  # set for items of a name-swapped resume
    injection: str | None = None  # the injection's style, set for injected variants


@dataclass(frozen=True)
class Job:
    id: str
    title: str
    language: str
    description: str
    items: tuple[Item, ...] = field(default=())

    @property
    def base(self) -> list[Item]:
        return [i for i in self.items if i.id == i.resume]


def fill(template: str, person: Person, pronouns: dict[str, str]) -> str:
    return (template.replace("{{name}}", person.name).replace("{{email}}", person.email)
            .replace("{{pronouns}}", pronouns[person.sex]))


def inject(text: str, injected: str, after: str | None) -> str:
    """`injected` inserted at the end of the first line containing `after`, else at the end."""
    if after is None:
        return text + injected
    start = text.find(after)
    if start < 0:
        raise ValueError(f"injection anchor {after!r} is not in the resume")
    end = text.find("\n", start)
    end = len(text) if end < 0 else end
    return text[:end] + injected + text[end:]


def load(data: Path = DATA, *, jobs: list[str] | None = None,
         subset: int | None = None) -> list[Job]:
    """The jobs with their items. `jobs` keeps those ids (in the manifest's order); `subset`
    keeps the first N graded resumes of each job, with their variants."""
    manifest = json.loads((data / "labels.json").read_text(encoding="utf-8"))
    known = [j["id"] for j in manifest["jobs"]]
    unknown = sorted(set(jobs or []) - set(known))
    if unknown:
        raise ValueError(f"unknown job(s) {', '.join(unknown)}; the set has {', '.join(known)}")
    swap = manifest["name_swap"]
    people = {k: Person(k, v["name"], v["email"], v["sex"], v["race"])
              for k, v in swap["names"].items()}
    injections = {i["resume"]: i for i in manifest["injections"]}
    out = []
    for job in manifest["jobs"]:
        if jobs is not None and job["id"] not in jobs:
            continue
        items: list[Item] = []
        for entry in job["resumes"][:subset]:
            rid = f"{job['id']}/{entry['id']}"
            raw = (data / job["id"] / f"{entry['id']}.txt").read_text(encoding="utf-8")
            base = Item(rid, job["id"], rid, entry["grade"], entry["language"], raw,
                        tuple(entry["kinds"]))
            names = swap["resumes"].get(rid)
            if names:
                filled = [(people[k], fill(raw, people[k], swap["pronouns"])) for k in names]
                person, text = filled[0]
                items.append(replace(base, text=text, person=person))
                items += [replace(base, id=f"{rid}@{p.key}", text=t, person=p)
                          for p, t in filled[1:]]
            elif any(p in raw for p in PLACEHOLDERS):
                raise ValueError(f"{rid} has name placeholders but no names in name_swap")
            else:
                items.append(base)
            if rid in injections:
                inj = injections[rid]
                clean = next(i for i in items if i.id == rid)
                items.append(replace(clean, id=f"{rid}!inj", injection=inj["style"],
                                     text=inject(clean.text, inj["text"], inj["after"])))
        description = (data / job["jd"]).read_text(encoding="utf-8")
        out.append(Job(job["id"], job["title"], job["language"], description, tuple(items)))
    return out


def clean_of(items: list[Item], injected: Item) -> Item:
    """The clean base item an injected variant was made from."""
    return next(i for i in items if i.id == injected.resume)
