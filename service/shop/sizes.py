"""Size charts and the size assistant: from a chart and the customer's measurements, the size to take, or the
two sizes the customer is between and which way the product's fit leans.

A chart is a CSV file, one row per size in order, smallest first:

    size,height_cm,weight_kg,bust_cm,length_cm
    S,150-160,40-50,86,62
    M,160-168,50-58,90,64

Every column but `size` names a measure and its unit: `height_cm`, `weight_kg` or `weight_jin` (斤), `bust_cm`,
`waist_cm`, `hip_cm`, `length_cm`, `shoulder_cm`, `sleeve_cm`, `foot_cm`, `ring_mm`, `head_cm`, or `_in` for
inches. A value is a range `lo-hi` of the body it fits (half-open: 160 is M above, not S) or a single number
(a garment measurement, or the foot length of a shoe size).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

from intents.resources import Source

MEASURES = ("height", "weight", "bust", "waist", "hip", "length", "shoulder", "sleeve", "foot", "ring", "head")
UNITS = {"cm": 1.0, "kg": 1.0, "jin": 0.5, "mm": 0.1, "in": 2.54}  # to cm (or kg for weight)
# Which measurement of the customer's each measure reads (garment measures such as length are shown, not matched).
BODY = {"height": "height_cm", "weight": "weight_kg", "bust": "bust_cm", "waist": "waist_cm", "hip": "hip_cm", "foot": "foot_cm"}
LABELS = {"height_cm": "身高", "weight_kg": "体重", "bust_cm": "胸围", "waist_cm": "腰围", "hip_cm": "臀围", "foot_cm": "脚长"}
FIT = {"slim": "修身", "regular": "标准", "loose": "宽松"}
_RANGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*[-~～—]\s*(\d+(?:\.\d+)?)\s*$")
_NUMBER = re.compile(r"^\s*\d+(?:\.\d+)?\s*$")
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,59}$")


class SizeChartError(ValueError):
    """A size chart cannot be used; the message names file, line and reason."""


@dataclass(frozen=True)
class SizeRow:
    size: str
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)  # measure → [lo, hi) in cm / kg
    values: dict[str, float] = field(default_factory=dict)  # measure → a single number in cm / kg


@dataclass(frozen=True)
class SizeChart:
    id: str
    rows: tuple[SizeRow, ...]

    @property
    def sizes(self) -> list[str]:
        return [r.size for r in self.rows]

    def as_records(self) -> list[dict]:
        return [{"size": r.size, **{m: list(v) for m, v in r.ranges.items()}, **r.values} for r in self.rows]


@dataclass(frozen=True)
class SizeAdvice:
    size: str | None
    between: list[str] | None
    reason: str
    missing: tuple[str, ...] = ()  # measurements that would make the advice firmer
    chart: str = ""  # the chart's id
    read: tuple[str, ...] = ()  # the measurements it rests on (none: a usual size)


def _column(name: str, where: str) -> tuple[str, float]:
    measure, _, unit = name.strip().lower().rpartition("_")
    if measure not in MEASURES:
        raise SizeChartError(f"{where}: unknown column {name!r} (measures: {', '.join(MEASURES)}, each with a unit: _cm, _kg …)")
    if unit not in UNITS or (measure == "weight") != (unit in ("kg", "jin")):
        raise SizeChartError(f"{where}: unknown unit {unit!r} for {measure} in column {name!r}")
    return measure, UNITS[unit]


def parse_chart(chart_id: str, text: str, where: str = "size chart") -> SizeChart:
    """A chart from CSV text; a bad one raises with file, line and reason."""
    if not _ID.match(chart_id):
        raise SizeChartError(f"{where}: chart id must be lowercase letters, digits, '-' and '_', got {chart_id!r}")
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""), strict=True)
    try:
        lines = [(n, row) for n, row in enumerate(reader, 1) if any(cell.strip() for cell in row) and not row[0].lstrip().startswith("#")]
    except csv.Error as exc:
        raise SizeChartError(f"{where}:{reader.line_num}: not readable as CSV ({exc})") from None
    if not lines:
        raise SizeChartError(f"{where}: empty chart")
    header_line, header = lines[0]
    header = [h.strip() for h in header]
    if "size" not in header:
        raise SizeChartError(f"{where}:{header_line}: missing column 'size'")
    columns = {i: _column(name, f"{where}:{header_line}") for i, name in enumerate(header) if name != "size"}
    if not columns:
        raise SizeChartError(f"{where}:{header_line}: no measure columns besides 'size'")
    if len(set(header)) != len(header):
        raise SizeChartError(f"{where}:{header_line}: a column is repeated")
    rows: list[SizeRow] = []
    for lineno, cells in lines[1:]:
        at = f"{where}:{lineno}"
        if len(cells) != len(header):
            raise SizeChartError(f"{at}: {len(cells)} cells, the header has {len(header)}")
        size = cells[header.index("size")].strip()
        if not size or len(size) > 20:
            raise SizeChartError(f"{at}: missing size")
        if size in {r.size for r in rows}:
            raise SizeChartError(f"{at}: size {size!r} repeated")
        ranges, values = {}, {}
        for i, (measure, factor) in columns.items():
            cell = cells[i].strip()
            if not cell:
                continue
            if match := _RANGE.match(cell):
                lo, hi = float(match.group(1)) * factor, float(match.group(2)) * factor
                if lo >= hi:
                    raise SizeChartError(f"{at}: range {cell!r} of {header[i]} is empty or reversed")
                ranges[measure] = (lo, hi)
            elif _NUMBER.match(cell):
                values[measure] = float(cell) * factor
            else:
                raise SizeChartError(f"{at}: {header[i]} {cell!r} is neither a number nor a range like 160-168")
        rows.append(SizeRow(size, ranges, values))
    if not rows:
        raise SizeChartError(f"{where}: no sizes")
    for measure in MEASURES:
        spans = [(n, r.ranges[measure]) for n, r in enumerate(rows) if measure in r.ranges]
        for (a, (_, hi_a)), (b, (lo_b, _)) in zip(spans, spans[1:]):
            if lo_b < hi_a:
                raise SizeChartError(
                    f"{where}:{lines[b + 1][0]}: {measure} range of {rows[b].size} overlaps the one of {rows[a].size}"
                )
    return SizeChart(chart_id, tuple(rows))


def read_chart(source: Source, chart_id: str | None = None) -> SizeChart:
    return parse_chart(chart_id or source.name.rsplit(".", 1)[0].lower(), source.read_text(encoding="utf-8"), str(source))


def _size_for(chart: SizeChart, measure: str, value: float) -> tuple[int, str]:
    """The row whose range holds `value`, and "" or "below"/"above" the chart ("far below": below the smallest
    size by more than that size's own span)."""
    rows = [(i, r.ranges[measure]) for i, r in enumerate(chart.rows) if measure in r.ranges]
    for i, (lo, hi) in rows:
        if lo <= value < hi:
            return i, ""
    first, (lo, hi) = rows[0]
    if value < lo:
        return first, "far below" if value < lo - (hi - lo) else "below"
    last, (lo, hi) = rows[-1]
    return last, "" if value == hi else "above"


# Below this share of a size's range, a measurement is at the size's small end.
_SMALL_END = 0.35


def _low_in(row: SizeRow, measurements: dict, votes: list[tuple[str, int, str]]) -> bool:
    """Whether every measurement that chose this row lies in the lower part of its range."""
    shares = []
    for key, _, _ in votes:
        measure = next((m for m, k in BODY.items() if k == key), None)
        if measure not in row.ranges:
            return False
        lo, hi = row.ranges[measure]
        shares.append((float(measurements[key]) - lo) / (hi - lo) if hi > lo else 1.0)
    return bool(shares) and max(shares) < _SMALL_END


def _shown(key: str, value: float) -> str:
    if key == "weight_kg":
        jin = value * 2
        return f"体重{jin:g}斤"
    return f"{LABELS[key]}{value:g}"


def _advice(
    chart: SizeChart, size: str | None, between: list[str] | None, reason: str, missing: tuple[str, ...] = (),
    read: tuple[str, ...] = (),
) -> SizeAdvice:
    return SizeAdvice(size, between, reason, missing, chart.id, read)


def _beyond(chart: SizeChart, usual: object) -> str | None:
    """What to say when the usual size is a number past the chart's numbered sizes ("我老公43的" on a chart of 35 to
    40): that the product is not made in it. None when it is within them, or the sizes are not numbers."""
    try:
        sizes = [float(size) for size in chart.sizes]
        wanted = float(str(usual))
    except ValueError:
        return None
    if not sizes or min(sizes) <= wanted <= max(sizes):
        return None
    said = f"平时穿{usual}码的话这款没有合适的码"
    if wanted > max(sizes):
        return f"这款最大只做到{chart.sizes[sizes.index(max(sizes))]}码，{said}"
    return f"这款最小从{chart.sizes[sizes.index(min(sizes))]}码起，{said}"


# How the customer wants it to sit: looser ("想穿宽松点", "想要oversize一点", "别太紧") or closer ("想要贴身一点",
# "不想太宽松"). A wish, not a worry or a question about the cut ("这款宽松吗", "会不会太宽松"): the wish denied is read
# first.
_CLOSER_WISH = re.compile(
    r"(?:想|要|喜欢|爱)(?:穿)?得?(?:贴身|修身|紧身|合身|显瘦)|(?:贴身|修身|合身)一?点|(?:不|别)(?:想|要)(?:太|那么)?(?:宽松|松|宽|大|肥)"
    r"|(?:不|别)太(?:宽松|松|宽|肥)", re.IGNORECASE)
_LOOSER_WISH = re.compile(
    r"(?:想|要|喜欢|爱)(?:穿)?得?(?:宽松|松|宽|oversize|垮)|(?:宽松|松|宽)一?点|oversize|垮垮|穿大一?点|大一点的"
    r"|(?:不|别)(?:想|要)?(?:太|那么)?(?:紧|贴身)", re.IGNORECASE)


def fit_wish(texts: list[str]) -> str | None:
    """"looser", "closer" or None: how the customer wants the garment to sit, from their latest turn saying so
    (`texts`, the customer's turns, oldest first)."""
    for text in reversed(texts):
        if _CLOSER_WISH.search(text):
            return "closer"
        if _LOOSER_WISH.search(text):
            return "looser"
    return None


def advise(
    chart: SizeChart, measurements: dict, fit: str | None = None, general: str | None = None, wish: str | None = None
) -> SizeAdvice | None:
    """The size for these measurements on this chart (None when the chart and the measurements share nothing).
    The advice is said of the product ("这款"), or with no product known of `general`, the shop's garments the chart
    is for ("我们家上衣一般"); then only measurements count: a usual size alone says nothing of an unknown item.
    `wish` (`fit_wish`): how the customer wants it to sit, which the advice answers ("想穿宽松点 拿M还是L")."""
    subject = general or "这款"
    votes: list[tuple[str, int, str]] = []  # (measurement key, row, where)
    for measure, key in BODY.items():
        if key not in measurements or not isinstance(measurements[key], (int, float)):
            continue
        value = float(measurements[key])
        if any(measure in r.ranges for r in chart.rows):
            row, where = _size_for(chart, measure, value)
            votes.append((key, row, where))
        elif measure == "foot" and any("foot" in r.values for r in chart.rows):
            # A shoe chart gives the foot length each size fits: the smallest size at least as long as the foot.
            fits = [i for i, r in enumerate(chart.rows) if "foot" in r.values and r.values["foot"] >= value - 1e-9]
            row = fits[0] if fits else len(chart.rows) - 1
            votes.append((key, row, "" if fits else "above"))
    usual = measurements.get("usual_size")
    if not votes:
        beyond = _beyond(chart, usual) if general is None else None
        if beyond:
            return _advice(chart, None, None, beyond)
        if general is None and isinstance(usual, str) and usual in chart.sizes:
            row = chart.sizes.index(usual)
            if fit == "slim" and row + 1 < len(chart.rows):
                return _advice(chart, chart.rows[row + 1].size, [usual, chart.rows[row + 1].size],
                                  f"您平时穿{usual}码，这款是修身版型，建议拍大一码{chart.rows[row + 1].size}码")
            return _advice(chart, usual, None, f"您平时穿{usual}码，这款按平时的码拍就可以")
        return None
    needed = tuple(
        key for measure, key in BODY.items() if key not in measurements and any(measure in r.ranges for r in chart.rows)
    )
    read = tuple(key for key, _, _ in votes)
    said = "、".join(_shown(key, float(measurements[key])) for key, _, _ in votes)
    rows = sorted({row for _, row, _ in votes})
    outside = [(key, where) for key, _, where in votes if where]
    if len(rows) == 1:
        row = rows[0]
        size = chart.rows[row].size
        if any(where == "far below" for _, where in outside):
            # a child's measurements on an adults' chart: even the smallest size is too big
            return _advice(chart, None, None, f"按{said}，{subject}最小的{size}码也会大不少，怕不合适", (), read)
        reason = f"按{said}，{subject}建议{size}码"
        if outside:
            above = any(w == "above" for _, w in outside)
            reason += "（已超出尺码表的范围，是最大的码，建议再和我确认一下）" if above else "（已是最小的码）"
        elif fit == "slim" and wish == "closer":
            reason += f"；这款是{FIT['slim']}版型，想贴身一点选{size}码正好"
        elif fit == "slim" and row + 1 < len(chart.rows):
            reason += f"；这款是{FIT['slim']}版型，喜欢宽松一点可以拿{chart.rows[row + 1].size}码"
        elif wish == "looser" and _low_in(chart.rows[row], measurements, votes):
            # at the small end of the size's ranges: the size itself sits loose (a rater's round: 158 and 96斤, at M's
            # lower bounds, were told to take L for a looser fit, "远超其身形")
            reason += f"；您的身材在{size}码里偏小一些，穿{size}码就会比较宽松"
        elif wish == "looser" and row + 1 < len(chart.rows):
            bigger = chart.rows[row + 1].size
            reason += (f"；这款是{FIT['loose']}版型，{size}码就有宽松感，想再宽松些可以拿{bigger}码" if fit == "loose"
                       else f"；您想穿宽松一点的话，可以拿大一码{bigger}码")
        elif fit == "loose":
            reason += f"；这款是{FIT['loose']}版型，不用特意拍大"
        elif wish == "closer":
            reason += f"；想贴身一点选{size}码就好"
        return _advice(chart, size, None, reason, needed, read)
    low, high = chart.rows[rows[0]].size, chart.rows[rows[-1]].size
    parts = "，".join(f"{_shown(key, float(measurements[key]))}对应{chart.rows[row].size}码" for key, row, _ in votes)
    # Two sizes or more apart, with the girth (weight, bust, waist, hip) on the larger side: the smaller size would
    # not close ("155 130斤": S by height, XL by weight), whatever the cut.
    girth = max(((key, row) for key, row, _ in votes if key != "height_cm"), key=lambda kr: kr[1], default=None)
    if girth is not None and rows[-1] - rows[0] > 1 and girth[1] == rows[-1]:
        lean = f"两边差得比较多，建议以{LABELS[girth[0]]}为准选{high}码，穿着不会紧"
        return _advice(chart, high, [low, high], f"{parts}，{lean}", needed, read)
    if wish == "looser":
        size, lean = high, f"您想穿宽松一点，选{high}码"
    elif wish == "closer":
        size, lean = low, (f"这款是{FIT['slim']}版型，想贴身一点选{low}码，怕紧的话选{high}码" if fit == "slim"
                           else f"您想贴身一点，选{low}码")
    elif fit == "slim":
        size, lean = high, f"这款是{FIT['slim']}版型，建议选大一点的{high}码"
    elif fit == "loose":
        size, lean = low, f"这款是{FIT['loose']}版型，选{low}码穿着也不会紧"
    elif isinstance(usual, str) and usual in chart.sizes[rows[0] : rows[-1] + 1]:
        size, lean = usual, f"您平时穿{usual}码，{subject}选{usual}码就好"
    else:
        size, lean = high, f"喜欢宽松一点选{high}码，想合身一点选{low}码"
    return _advice(chart, size, [low, high], f"{parts}，在{low}和{high}之间；{lean}", needed, read)
