"""A small reader of the Dockerfile: stages and instructions, continuation lines joined."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO_ROOT / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"


@dataclass
class Instruction:
    keyword: str
    arguments: str


@dataclass
class Stage:
    image: str
    name: str
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [i.arguments for i in self.instructions if i.keyword == keyword]

    def run_containing(self, text: str) -> str:
        (command,) = [r for r in self.all("RUN") if text in r]
        return command


def instructions(text: str) -> list[Instruction]:
    joined = re.sub(r"\\\n", " ", text)
    found = []
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, arguments = line.partition(" ")
        found.append(Instruction(keyword.upper(), " ".join(arguments.split())))
    return found


def stages(path: Path = DOCKERFILE) -> list[Stage]:
    result: list[Stage] = []
    for instruction in instructions(path.read_text()):
        if instruction.keyword == "FROM":
            image, _, name = instruction.arguments.partition(" AS ")
            result.append(Stage(image.strip(), name.strip()))
        else:
            assert result, f"{instruction} before the first FROM"
            result[-1].instructions.append(instruction)
    return result


def dockerignore_allowlist(path: Path = DOCKERIGNORE) -> list[str]:
    """The paths a `*` .dockerignore lets through (its `!path` lines)."""
    lines = [line.strip() for line in path.read_text().splitlines()]
    patterns = [line for line in lines if line and not line.startswith("#")]
    assert patterns[0] == "*", ".dockerignore is expected to be an allowlist starting with *"
    return [p[1:].rstrip("/") for p in patterns if p.startswith("!")]
