"""The size assistant: a table of charts and measurements with the size (or the two sizes) each gives, a case on
each side of every range boundary; the reason said; and bad charts refused with file, line and reason."""

import pytest

from service.shop.answers import bra_answer, bra_size, general_size_answer
from service.shop.sizes import SizeChartError, advise, fit_wish, parse_chart

TOPS = parse_chart("tops", """size,height_cm,weight_kg,bust_cm,length_cm
S,150-158,40-48,96,60
M,158-166,48-56,100,62
L,166-174,56-65,104,64
XL,174-182,65-75,108,66
""")
JEANS = parse_chart("jeans", """size,waist_cm,hip_cm,height_cm
25,60-64,84-88,150-156
26,64-67,88-91,156-160
27,67-70,91-94,160-164
28,70-74,94-97,164-168
29,74-77,97-100,168-172
30,77-81,100-104,172-178
""")
SHOES = parse_chart("shoes", """size,foot_cm
35,22.5
36,23.0
37,23.5
38,24.0
39,24.5
40,25.0
""")
# Weight in 斤 (kids' charts often are): 22-28斤 is 11-14 kg.
KIDS = parse_chart("kids", """size,height_cm,weight_jin
90,80-90,22-28
100,90-100,28-34
110,100-110,34-40
120,110-120,40-48
""")
CHARTS = {"tops": TOPS, "jeans": JEANS, "shoes": SHOES, "kids": KIDS}

H, W = "height_cm", "weight_kg"
CASES = [
    # tops by height: below the chart, each side of every boundary, the top end, above
    ("tops", {H: 149}, None, "S", None),
    ("tops", {H: 150}, None, "S", None),
    ("tops", {H: 157.9}, None, "S", None),
    ("tops", {H: 158}, None, "M", None),
    ("tops", {H: 165.9}, None, "M", None),
    ("tops", {H: 166}, None, "L", None),
    ("tops", {H: 173.9}, None, "L", None),
    ("tops", {H: 174}, None, "XL", None),
    ("tops", {H: 182}, None, "XL", None),
    ("tops", {H: 190}, None, "XL", None),
    # tops by weight
    ("tops", {W: 39}, None, "S", None),
    ("tops", {W: 40}, None, "S", None),
    ("tops", {W: 47.9}, None, "S", None),
    ("tops", {W: 48}, None, "M", None),
    ("tops", {W: 55.9}, None, "M", None),
    ("tops", {W: 56}, None, "L", None),
    ("tops", {W: 64.9}, None, "L", None),
    ("tops", {W: 65}, None, "XL", None),
    ("tops", {W: 75}, None, "XL", None),
    ("tops", {W: 80}, None, "XL", None),
    # both: agreeing, or between two sizes leaning as the fit (or the usual size) says
    ("tops", {H: 165, W: 55}, None, "M", None),
    ("tops", {H: 158, W: 48}, None, "M", None),
    ("tops", {H: 157.9, W: 47.9}, None, "S", None),
    ("tops", {H: 165, W: 58}, "regular", "L", ["M", "L"]),
    ("tops", {H: 165, W: 58}, "slim", "L", ["M", "L"]),
    ("tops", {H: 165, W: 58}, "loose", "M", ["M", "L"]),
    ("tops", {H: 165, W: 58, "usual_size": "M"}, "regular", "M", ["M", "L"]),
    ("tops", {H: 174, W: 64.9}, None, "XL", ["L", "XL"]),
    ("tops", {H: 170, W: 45}, "loose", "S", ["S", "L"]),
    # the usual size alone
    ("tops", {"usual_size": "M"}, "regular", "M", None),
    ("tops", {"usual_size": "M"}, "slim", "L", ["M", "L"]),
    ("tops", {"usual_size": "XL"}, "slim", "XL", None),
    # jeans by waist
    ("jeans", {"waist_cm": 59.9}, None, "25", None),
    ("jeans", {"waist_cm": 60}, None, "25", None),
    ("jeans", {"waist_cm": 63.9}, None, "25", None),
    ("jeans", {"waist_cm": 64}, None, "26", None),
    ("jeans", {"waist_cm": 66.9}, None, "26", None),
    ("jeans", {"waist_cm": 67}, None, "27", None),
    ("jeans", {"waist_cm": 69.9}, None, "27", None),
    ("jeans", {"waist_cm": 70}, None, "28", None),
    ("jeans", {"waist_cm": 73.9}, None, "28", None),
    ("jeans", {"waist_cm": 74}, None, "29", None),
    ("jeans", {"waist_cm": 76.9}, None, "29", None),
    ("jeans", {"waist_cm": 77}, None, "30", None),
    ("jeans", {"waist_cm": 81}, None, "30", None),
    ("jeans", {"waist_cm": 82}, None, "30", None),
    # jeans by hip
    ("jeans", {"hip_cm": 83}, None, "25", None),
    ("jeans", {"hip_cm": 87.9}, None, "25", None),
    ("jeans", {"hip_cm": 88}, None, "26", None),
    ("jeans", {"hip_cm": 90.9}, None, "26", None),
    ("jeans", {"hip_cm": 91}, None, "27", None),
    ("jeans", {"hip_cm": 93.9}, None, "27", None),
    ("jeans", {"hip_cm": 94}, None, "28", None),
    ("jeans", {"hip_cm": 96.9}, None, "28", None),
    ("jeans", {"hip_cm": 97}, None, "29", None),
    ("jeans", {"hip_cm": 99.9}, None, "29", None),
    ("jeans", {"hip_cm": 100}, None, "30", None),
    ("jeans", {"hip_cm": 104}, None, "30", None),
    # jeans by height
    ("jeans", {H: 149}, None, "25", None),
    ("jeans", {H: 155.9}, None, "25", None),
    ("jeans", {H: 156}, None, "26", None),
    ("jeans", {H: 159.9}, None, "26", None),
    ("jeans", {H: 160}, None, "27", None),
    ("jeans", {H: 163.9}, None, "27", None),
    ("jeans", {H: 164}, None, "28", None),
    ("jeans", {H: 167.9}, None, "28", None),
    ("jeans", {H: 168}, None, "29", None),
    ("jeans", {H: 171.9}, None, "29", None),
    ("jeans", {H: 172}, None, "30", None),
    ("jeans", {H: 178}, None, "30", None),
    ("jeans", {"waist_cm": 68, "hip_cm": 95}, "slim", "28", ["27", "28"]),
    ("jeans", {"waist_cm": 68, "hip_cm": 95}, "loose", "27", ["27", "28"]),
    # shoes: the smallest size at least as long as the foot
    ("shoes", {"foot_cm": 22.4}, None, "35", None),
    ("shoes", {"foot_cm": 22.5}, None, "35", None),
    ("shoes", {"foot_cm": 22.6}, None, "36", None),
    ("shoes", {"foot_cm": 23.0}, None, "36", None),
    ("shoes", {"foot_cm": 23.1}, None, "37", None),
    ("shoes", {"foot_cm": 24.5}, None, "39", None),
    ("shoes", {"foot_cm": 25.0}, None, "40", None),
    ("shoes", {"foot_cm": 25.3}, None, "40", None),
    # kids, weight in 斤 on the chart, kg from the customer
    ("kids", {W: 10.9}, None, "90", None),
    ("kids", {W: 13.9}, None, "90", None),
    ("kids", {W: 14}, None, "100", None),
    ("kids", {W: 16.9}, None, "100", None),
    ("kids", {W: 17}, None, "110", None),
    ("kids", {W: 19.9}, None, "110", None),
    ("kids", {W: 20}, None, "120", None),
    ("kids", {H: 89.9, W: 13}, None, "90", None),
    ("kids", {H: 90, W: 13}, None, "100", ["90", "100"]),
]


@pytest.mark.parametrize("chart, measurements, fit, size, between", CASES)
def test_size_table(chart, measurements, fit, size, between):
    advice = advise(CHARTS[chart], measurements, fit)
    assert advice is not None
    assert (advice.size, advice.between) == (size, between)


def test_table_is_large_enough():
    assert len(CASES) >= 50


def test_nothing_shared_gives_no_advice():
    assert advise(TOPS, {"foot_cm": 24}) is None
    assert advise(TOPS, {"usual_size": "XXL"}) is None
    assert advise(SHOES, {H: 165, W: 55}) is None


def test_reason_names_the_measurements_and_asks_only_for_what_is_missing():
    advice = advise(TOPS, {H: 165, W: 55})
    assert advice.reason.startswith("按身高165、体重110斤，这款建议M码")
    assert advice.missing == ()
    only_height = advise(TOPS, {H: 165})
    assert only_height.size == "M" and only_height.missing == ("weight_kg",)
    between = advise(TOPS, {H: 165, W: 58}, "slim")
    assert "在M和L之间" in between.reason and "修身" in between.reason
    jeans = advise(JEANS, {H: 165})
    assert set(jeans.missing) == {"waist_cm", "hip_cm"}


def test_how_the_customer_wants_it_to_sit_is_answered():
    """Raters' rounds: "165 104斤 想穿宽松点 拿M还是L" got "这款建议M码" alone, and "想要贴身一点的" was not heard. A wish is
    read from the customer's words (a worry or a question about the cut is none) and the advice answers it."""
    for said, wish in [("想穿宽松点 拿M还是L呀", "looser"), ("松点的吧 那就拿大那个码", "looser"), ("想要oversize一点", "looser"),
                       ("别太紧", "looser"), ("想要贴身一点的", "closer"), ("不想太宽松", "closer"), ("这款宽松吗", None),
                       ("会不会太宽松", None), ("165 50kg穿什么码", None)]:
        assert fit_wish([said]) == wish, said
    assert fit_wish(["想要宽松点", "算了 还是贴身一点吧"]) == "closer"  # the latest wish
    one = advise(TOPS, {H: 165, W: 52}, "regular", wish="looser")
    assert one.size == "M" and one.reason.endswith("您想穿宽松一点的话，可以拿大一码L码"), one.reason
    assert "宽松" not in advise(TOPS, {H: 165, W: 52}, "regular").reason
    loose = advise(TOPS, {H: 165, W: 52}, "loose", wish="looser")
    assert "M码就有宽松感，想再宽松些可以拿L码" in loose.reason, loose.reason
    slim = advise(TOPS, {H: 165, W: 52}, "slim", wish="closer")
    assert "想贴身一点选M码正好" in slim.reason and "L码" not in slim.reason, slim.reason
    # at the small end of the size (158 and 48 kg, M's lower bounds), the size itself sits loose (a rater's round called
    # "再拿大一码L" far too big for her)
    small = advise(TOPS, {H: 158, W: 48}, "regular", wish="looser")
    assert small.size == "M" and "穿M码就会比较宽松" in small.reason and "L码" not in small.reason, small.reason
    biggest = advise(TOPS, {H: 178, W: 70}, "regular", wish="looser")
    assert biggest.size == "XL" and "大一码" not in biggest.reason  # no size above it
    # between two sizes, the wish chooses
    assert advise(TOPS, {H: 165, W: 58}, "regular", wish="looser").size == "L"
    closer = advise(TOPS, {H: 165, W: 58}, "slim", wish="closer")
    assert closer.size == "M" and "怕紧的话选L码" in closer.reason, closer.reason


def test_far_apart_with_the_girth_larger_takes_the_girths_size_whatever_the_cut():
    """"155 130斤" is S by height and XL by weight: "喜欢宽松一点选XL码，想合身一点选S码" offered a size that would
    not close (and a loose cut took S)."""
    for fit in (None, "loose", "regular", "slim"):
        advice = advise(TOPS, {H: 155, W: 65}, fit)
        assert (advice.size, advice.between) == ("XL", ["S", "XL"]), fit
        assert "以体重为准选XL码" in advice.reason and "选S码" not in advice.reason, advice.reason
    # one size apart, or the height the larger: the cut and the usual size lean as before
    assert advise(TOPS, {H: 165, W: 58}, "loose").size == "M"
    assert advise(TOPS, {H: 180, W: 50}, "loose").size == "M"


def test_far_below_the_smallest_size_no_size_is_advised():
    """A round of our own conversations: a grandmother buying for a five-year-old of 110 cm and 40斤 got "按身高110、
    体重40斤，我们家上衣一般建议S码（已是最小的码）" from an adults' chart. Below the smallest size by more than that
    size's own span, even the smallest is too big: no size is advised, and the reason says so."""
    advice = advise(TOPS, {H: 110, W: 20})
    assert advice.size is None and advice.between is None, advice
    assert advice.reason == "按身高110、体重40斤，这款最小的S码也会大不少，怕不合适", advice.reason
    assert advise(TOPS, {H: 110}).size is None
    # just below it, the smallest size is advised, as before
    assert advise(TOPS, {H: 147, W: 39}).size == "S"
    assert "已是最小的码" in advise(TOPS, {H: 147, W: 39}).reason


def test_a_usual_size_past_the_charts_numbered_sizes_is_said_not_made():
    """A rater's round: "那我老公43的拍几码" on a shoe made in 35 to 40 got the chart, never saying 43 is not made."""
    advice = advise(SHOES, {"usual_size": "43"})
    assert advice.size is None and advice.reason == "这款最大只做到40码，平时穿43码的话这款没有合适的码"
    assert advise(SHOES, {"usual_size": "34"}).reason.startswith("这款最小从35码起")
    assert advise(SHOES, {"usual_size": "38"}).size == "38"
    assert advise(TOPS, {"usual_size": "XXL"}) is None  # letters: no order to tell


@pytest.mark.parametrize(
    "texts, size",
    [
        (["胸围下围70 上围85 选神马码"], ("70C", "75B")),  # a rater's round: it got "75B和70C的罩杯容量差不多…" only
        (["下胸围72 上胸围86"], ("70C", "75B")),
        (["底围是80 上胸围90"], ("80A", None)),
        (["下围68", "上围是85.5 那我穿啥"], ("70D", "75C")),  # each measure the latest said, over turns
        (["下胸围70"], None),  # one measure: no size
        (["下胸围70 上胸围75"], None),  # a difference no cup has
        (["胸围90 腰围70"], None),  # no underbust: a garment's chest, not a bra
    ],
)
def test_a_bra_size_from_the_underbust_and_the_bust(texts, size):
    found = bra_size(texts)
    assert (found[2:] if found else None) == size
    if size:
        reply = bra_answer(texts, "size.bra")
        assert f"一般对应{size[0]}" in reply.text and reply.source == "size" and reply.id == f"sizing-bra-{size[0].lower()}"


def test_two_garments_named_get_a_size_each_in_one_reply():
    tops = advise(TOPS, {H: 170, W: 62.5}, None, "我们家上衣一般")
    jeans = advise(JEANS, {H: 170, W: 62.5, "waist_cm": 73}, None, "我们家裤子一般")
    reply = general_size_answer([(tops, "上衣"), (jeans, "裤子")], "size.recommend", [])
    assert reply.id == "sizing-shop-tops-jeans" and reply.text.startswith("亲，按身高170、体重125斤，我们家上衣一般建议L码；裤子的话，")
    assert "28码" in reply.text and "方便再说下" not in reply.text, reply.text


def test_said_of_the_shops_garments_when_no_product_is_known():
    advice = advise(TOPS, {H: 165, W: 55, "usual_size": "M"}, None, "我们家上衣一般")
    assert advice.reason == "按身高165、体重110斤，我们家上衣一般建议M码" and advice.read == ("height_cm", "weight_kg")
    # a usual size alone says nothing of an item nobody named
    assert advise(TOPS, {"usual_size": "M"}, None, "我们家上衣一般") is None
    assert advise(TOPS, {"usual_size": "M"}).size == "M"


@pytest.mark.parametrize(
    "text, reason",
    [
        ("height_cm,weight_kg\n150-158,40-48\n", "missing column 'size'"),
        ("size,height_cm\nS,150-160\nM,158-166\n", "overlaps"),
        ("size,height_ft\nS,5-6\n", "unknown unit 'ft'"),
        ("size,armspan_cm\nS,150-160\n", "unknown column 'armspan_cm'"),
        ("size,height_cm\nS,150-158\nS,158-166\n", "size 'S' repeated"),
        ("size,height_cm\nS,158-150\n", "empty or reversed"),
        ("size,height_cm\nS,tall\n", "neither a number nor a range"),
        ("size,height_cm\nS,150-158,extra\n", "3 cells, the header has 2"),
    ],
)
def test_bad_charts_are_refused_with_line_and_reason(text, reason):
    with pytest.raises(SizeChartError) as error:
        parse_chart("bad", text, "charts/bad.csv")
    assert str(error.value).startswith("charts/bad.csv")
    assert reason in str(error.value)


def test_bad_chart_error_names_the_line():
    with pytest.raises(SizeChartError, match=r"charts/bad.csv:4: height range of L overlaps"):
        parse_chart("bad", "size,height_cm\nS,150-158\nM,158-166\nL,165-174\n", "charts/bad.csv")


@pytest.mark.parametrize("text", ["\r0", "size,height_cm\nM,\"160-170\r\n", "size,height_cm\nM,\"160\x00-170\"\n"])
def test_a_chart_csv_cannot_parse_is_refused_not_crashed(text):
    """Found by fuzzing: a stray carriage return broke the CSV reader itself (a 500)."""
    with pytest.raises(SizeChartError, match="size chart"):
        parse_chart("tops", text)
