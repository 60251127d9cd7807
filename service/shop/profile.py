"""The shop's profile: the facts replies state about this shop (couriers, shipping times, free shipping,
returns, warranty, invoices, hours, price protection, gifts), from one TOML file or the API.

Each fact fills a template variable of the replies (`{ship_within}`, `{default_courier}` …). A fact the
profile lacks stays 【…】 in a reply (`needs_edit`): the service never makes one up.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field

from intents.resources import Source
from service.replies.corpus import SHOP_FACTS

# The profile's sections, each with its keys: the facts (template variables) and two of the shop's own.
SECTIONS: dict[str, tuple[str, ...]] = {
    "shop": ("name", "after_hours_message"),
    "shipping": ("ship_within", "cutoff_time", "delivery_time", "default_courier", "couriers", "extra_courier",
                 "extra_courier_fee", "free_shipping", "remote_shipping", "overseas_shipping"),
    "returns": ("return_window", "exchange_window", "return_shipping", "freight_insurance", "return_address", "refund_timing"),
    "service": ("warranty", "invoice_types", "invoice_timing", "working_hours", "price_protection", "gift_policy", "member_policy"),
}
MAX_VALUE = 300


# Where a customer is: Hong Kong, Macau or Taiwan, or another country (the overseas policy says each in a clause of its
# own: "港澳台顺丰直邮…；其他海外地区暂不直邮…").
_GREATER_CHINA = re.compile(r"香港|澳门|台湾|港澳台|hong ?kong|macau|taiwan", re.IGNORECASE)
_ABROAD = re.compile(r"澳洲|澳大利亚|新西兰|美国|加拿大|英国|德国|法国|意大利|西班牙|欧洲|日本|韩国|新加坡|马来西亚|泰国|越南|菲律宾|印尼"
                     r"|墨尔本|悉尼|纽约|洛杉矶|多伦多|温哥华|伦敦|巴黎|东京|大阪|首尔|海外|国外")
_CLAUSE = re.compile(r"[；;]")


def overseas_part(policy: str, texts: list[str]) -> str:
    """The clauses of the overseas policy for where the customer's turns (`texts`) say they are: Hong Kong, Macau and
    Taiwan, or another country; the whole policy when they name neither, both, or no clause says."""
    said = " ".join(texts)
    near, far = bool(_GREATER_CHINA.search(said)), bool(_ABROAD.search(said))
    if near == far:
        return policy
    clauses = [c.strip() for c in _CLAUSE.split(policy) if c.strip()]
    if near:
        kept = [c for c in clauses if re.search(r"港|澳门|台", c)]
    else:
        kept = [c for c in clauses if re.search(r"海外|国外|其他", c) and not re.search(r"港澳台", c)]
    return "；".join(kept) if kept else policy


class ProfileError(ValueError):
    """A shop profile cannot be used; the message names file, line and reason."""


@dataclass(frozen=True)
class ShopProfile:
    facts: dict[str, str] = field(default_factory=dict)  # template variable → the shop's wording
    name: str | None = None
    after_hours_message: str | None = None

    @property
    def values(self) -> dict[str, str]:
        """What fills the replies: the facts, and the shop's name as `shop_name`."""
        return {**self.facts, **({"shop_name": self.name} if self.name else {})}

    def sends_with(self, courier: str) -> str | None:
        """How the shop can send with `courier`: "listed" (its default or one of its couriers, no extra cost),
        "extra" (its courier at extra cost), "unlisted" (none of them), or None when the profile names no
        couriers. Names compare without 快递/速运/物流 ("京东" is "京东快递"; "EMS" is "邮政")."""
        listed = [self.facts.get("default_courier"), *(self.facts.get("couriers") or "").split("、")]
        listed = [_courier_key(c) for c in listed if c and c.strip()]
        if not listed:
            return None
        key = _courier_key(courier)
        if not key:
            return None
        if any(key in c or c in key for c in listed):
            return "listed"
        extra = _courier_key(self.facts.get("extra_courier") or "")
        return "extra" if extra and (key in extra or extra in key) else "unlisted"

    def as_dict(self) -> dict:
        out: dict[str, dict] = {}
        for section, keys in SECTIONS.items():
            values = {k: self._get(k) for k in keys if self._get(k) is not None}
            if values:
                out[section] = values
        return out

    def _get(self, key: str):
        if key == "name":
            return self.name
        if key == "after_hours_message":
            return self.after_hours_message
        return self.facts.get(key)


def _courier_key(name: str) -> str:
    key = re.sub(r"快递|速运|速递|物流|快运", "", name.strip()).upper()
    return "邮政" if key in ("EMS", "中国邮政") else key


def _line(text: str, key: str) -> int:
    for n, line in enumerate(text.splitlines(), 1):
        if re.match(rf"\s*{re.escape(key)}\s*=", line) or line.strip() == f"[{key}]":
            return n
    return 1


def parse_profile(data: object, where: str = "profile", text: str = "") -> ShopProfile:
    """A profile from its sections (decoded TOML or JSON); a bad one raises naming file, line and reason."""
    at = (lambda key: f"{where}:{_line(text, key)}") if text else (lambda key: where)
    if not isinstance(data, dict):
        raise ProfileError(f"{where}: expected sections {', '.join(SECTIONS)}")
    facts: dict[str, str] = {}
    own: dict[str, str | None] = {"name": None, "after_hours_message": None}
    for section, values in data.items():
        if section not in SECTIONS:
            raise ProfileError(f"{at(section)}: unknown section [{section}] (known: {', '.join(SECTIONS)})")
        if not isinstance(values, dict):
            raise ProfileError(f"{at(section)}: [{section}] must be a table of key = \"value\"")
        for key, value in values.items():
            if key not in SECTIONS[section]:
                raise ProfileError(f"{at(key)}: unknown key {key!r} in [{section}] (known: {', '.join(SECTIONS[section])})")
            if key == "couriers" and isinstance(value, list):
                if not value or not all(isinstance(v, str) and v.strip() for v in value):
                    raise ProfileError(f"{at(key)}: couriers must be a non-empty list of names")
                value = "、".join(v.strip() for v in value)
            if not isinstance(value, str) or not value.strip():
                raise ProfileError(f"{at(key)}: {key} must be a non-empty string")
            if len(value) > MAX_VALUE or "{" in value or "}" in value:
                raise ProfileError(f"{at(key)}: {key} must be at most {MAX_VALUE} characters, without braces")
            if key in own:
                own[key] = value.strip()
            else:
                facts[key] = value.strip()
    assert set(facts) <= set(SHOP_FACTS)
    return ShopProfile(facts, own["name"], own["after_hours_message"])


def read_profile(source: Source) -> ShopProfile:
    text = source.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = re.search(r"line (\d+)", str(exc))
        raise ProfileError(f"{source}:{line.group(1) if line else 1}: not valid TOML ({exc})") from None
    return parse_profile(data, str(source), text)
