"""Handling guidance for the agent: 2–4 concrete steps for a reading, and whether to escalate."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass

from intents.labels import AFTER_SALE_INTENTS, COMPLAINT_PSYCHOLOGY, INTENTS, PSYCHOLOGY
from intents.resources import Source, packaged

GUIDANCE_FILE = packaged("scripts_corpus", "guidance.toml")
MAX_STEPS = 4


class GuidanceError(ValueError):
    """The guidance file is missing an entry or has one of the wrong shape."""


@dataclass(frozen=True)
class Advice:
    steps: tuple[str, ...]
    escalate: bool
    escalate_reason: str | None
    severity: str | None  # "ordinary" | "serious" when the complaint flow applies


@dataclass(frozen=True)
class Guidance:
    flows: dict[str, str]  # severity → step
    emotion: dict[str, str]  # level → step
    escalation: dict[str, str]
    psychology: dict[str, dict]  # id → {wants, do, avoid}
    intent: dict[str, list[str]]  # id → do steps

    @classmethod
    def load(cls, path: Source = GUIDANCE_FILE) -> "Guidance":
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise GuidanceError(f"{path}: cannot be read ({exc})") from None

        def text(section: dict, key: str, where: str) -> str:
            value = section.get(key) if isinstance(section, dict) else None
            if not isinstance(value, str) or not value.strip():
                raise GuidanceError(f"{path}: [{where}] needs a non-empty string {key!r}")
            return value.strip()

        def steps(section: dict, where: str) -> list[str]:
            value = section.get("do") if isinstance(section, dict) else None
            if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
                raise GuidanceError(f"{path}: [{where}] needs 'do', a non-empty list of steps")
            return [v.strip() for v in value]

        flows = {sev: text(data.get("flow", {}).get(sev), "step", f"flow.{sev}") for sev in ("ordinary", "serious")}
        emotion = {lvl: text(data.get("emotion", {}).get(lvl), "step", f"emotion.{lvl}") for lvl in ("upset", "angry")}
        escalation = {k: text(data.get("escalation"), k, "escalation") for k in ("step", "retaliation", "angry", "threat")}
        psychology = {}
        for pid in PSYCHOLOGY:
            section = data.get("psychology", {}).get(pid)
            where = f"psychology.{pid}"
            psychology[pid] = {"wants": text(section, "wants", where), "do": steps(section, where), "avoid": text(section, "avoid", where)}
        intent = {iid: steps(data.get("intent", {}).get(iid), f"intent.{iid}") for iid in INTENTS}
        return cls(flows, emotion, escalation, psychology, intent)

    def advise(
        self,
        intents: list[tuple[str, float]],
        psychology: str | None,
        emotion: str,
        threats: tuple[str, ...] = (),
    ) -> Advice:
        """Steps for one reading: feelings first, then the complaint flow, then what the type (or intent) needs."""
        top = intents[0][0] if intents else "other"
        confidence = dict(intents)
        complaint_like = top == "complaint" or confidence.get("complaint", 0.0) >= 0.3 or (
            psychology in COMPLAINT_PSYCHOLOGY and psychology != "remedy"
        )
        reasons = []
        if psychology == "retaliation":
            reasons.append(self.escalation["retaliation"])
        if emotion == "angry":
            reasons.append(self.escalation["angry"])
        if threats:
            reasons.append(self.escalation["threat"].format(threats="、".join(threats)))
        escalate = bool(reasons)
        severity = None
        if complaint_like or (top in AFTER_SALE_INTENTS and emotion != "calm"):
            severity = "serious" if escalate else "ordinary"

        steps: list[str] = []
        if emotion in self.emotion:
            steps.append(self.emotion[emotion])
        if severity:
            steps.append(self.flows[severity])
        if psychology:
            steps.append(self.psychology[psychology]["do"][0])
            steps.append(self.psychology[psychology]["avoid"])
        else:
            steps += self.intent.get(top, self.intent["other"])
        if escalate:
            # The escalation step always stays; the lowest-priority steps give way to it.
            steps = steps[: MAX_STEPS - 1] + [self.escalation["step"]]
        steps = list(dict.fromkeys(steps))[:MAX_STEPS]
        if len(steps) < 2:  # a greeting with no type: add what the intent needs, then the general step
            steps += [s for s in self.intent.get(top, []) + self.intent["other"] if s not in steps]
            steps = steps[:2]
        return Advice(tuple(steps), escalate, "；".join(reasons) or None, severity)

    def for_reading(self, reading) -> Advice:
        """`advise` for an `intents.analyzer.Reading`."""
        return self.advise(reading.intents, reading.psychology.id, reading.emotion.level, reading.emotion.threats)
