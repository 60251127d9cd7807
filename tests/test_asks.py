"""A message asking several things is cut into its questions, each with what the customer said about it (a rater's
round: "纯羊毛吗 会不会扎 163 52kg穿M还是L 燕麦色还有没" got the size advice alone), and one reply answers each
question in turn."""

from __future__ import annotations

import pytest

from intents.asks import after_choice, split_asks
from intents.normalize import normalize
from service.replies.corpus import StandardReply
from service.replies.joining import asks_back, join_texts, joined_candidate, joined_id
from service.replies.ranking import Candidate


def asks(text: str) -> list[str]:
    return split_asks(normalize(text))


@pytest.mark.parametrize("message, expected", [
    ("这个毛衣是纯羊毛吗？会不会扎 我163 52kg穿M还是L 燕麦色还有没",
     ["这个毛衣是纯羊毛吗", "会不会扎", "我163 52kg穿M还是L", "燕麦色还有没"]),
    # a numbered list
    ("想问下 1.支持7天无理由吗 2.退货运费谁出 3.可以开发票吗 要公司抬头的",
     ["想问下 支持7天无理由吗", "退货运费谁出", "可以开发票吗 要公司抬头的"]),
    # measurements go with the question after them; a remark with the question before it
    ("腰2尺1 臀围90 穿几码 弹力大不大", ["腰2尺1 臀围90 穿几码", "弹力大不大"]),
    ("买了十天了还能退吗 衣服没穿过 吊牌都在", ["买了十天了还能退吗 衣服没穿过 吊牌都在"]),
    ("能机洗吗 我家洗衣机有羊毛档", ["能机洗吗 我家洗衣机有羊毛档"]),
    ("我脚背有点高 会挤脚吗", ["我脚背有点高 会挤脚吗"]),
    # a question particle with more after it ends a question
    ("发新疆包邮不 多久能到", ["发新疆包邮不", "多久能到"]),
    ("有白色吗165穿m还是l", ["有白色吗", "165穿m还是l"]),
    # a height and a weight before a question about something else ask for a size of their own (a rater's round:
    # "他180 70公斤 黑色有么 …" got the size advice and lost the colour)
    ("我老公175 140斤 灰色还有吗", ["我老公175 140斤", "灰色还有吗"]),
    ("身高158体重95 这件起球吗", ["身高158体重95", "这件起球吗"]),
    # a question mark alone makes a clause a question (the cut took it away and the clause went with the next one)
    ("L码有货？今天下单明天能发货？", ["L码有货", "今天下单明天能发货"]),
    ("这个是纯棉的? 洗了会缩水吗", ["这个是纯棉的", "洗了会缩水吗"]),
    # short, but a question of its own: what the product can do ("能机洗", "会掉色吗"), not an option of the one before
    # (a rater's round: "能机洗" went with the question before it and only that was answered)
    ("这件是纯羊毛的? 能机洗?", ["这件是纯羊毛的", "能机洗"]),
    ("多少钱一件 会掉色吗", ["多少钱一件", "会掉色吗"]),
    # a 呢 that tells ("我怀着孕呢", "在上班呢") does not ask: what it tells goes with the question before (a round of our
    # own conversations: "…有没有防伪码 别给我发假货 我怀着孕呢" was answered about maternity sizes too)
    ("是旗舰店还是代购啊 有没有防伪码 我怀着孕呢", ["是旗舰店还是代购啊", "有没有防伪码 我怀着孕呢"]),
    ("能发顺丰吗 我在上班呢 几点能到", ["能发顺丰吗 我在上班呢", "几点能到"]),
    # a clause asking to be told yes ("可以吧", "能退吧") asks (a round of our own conversations: "…想换S 吊牌都还在的
    # 前天签收的 可以换吧？来回运费咋算" was answered about the exchange alone)
    ("前天收到的 有点大 换小一码可以吧 邮费谁出", ["前天收到的 有点大 换小一码可以吧", "邮费谁出"]),
    ("能退吧 运费险有吗", ["能退吧", "运费险有吗"]),
    # asked in Cantonese (a rated conversation: "37碼係咪腳長23.5？寄香港運費幾多" was one question, and only the size was
    # answered)
    ("我喺香港 37碼係咪腳長23.5 寄香港運費幾多", ["我喺香港 37码系咪脚长23.5", "寄香港运费几多"]),
    ("有冇黑色 好唔好洗", ["有冇黑色", "好唔好洗"]),
    # asked as a request ("地址发下", "尺码表发我"): a question too (a rated conversation: "退货地址发下！！…包裹上要写订单号吗"
    # was one question, and the order number went unanswered)
    ("退货地址发下！！快递小哥在门口等着呢 包裹上要写订单号吗", ["退货地址发下 快递小哥在门口等着呢", "包裹上要写订单号吗"]),
    ("尺码表发我 M码衣长多少", ["尺码表发我", "M码衣长多少"]),
    # a clause opening another topic ("还有…", "另外…") goes with the question after it (a rated conversation: "能在这之前到吗？
    # 还有哈尔滨零下二十几度 这件扛的住吗" read the weather with the delivery question)
    ("后天能到吗 还有哈尔滨零下二十几度 这件扛的住吗", ["后天能到吗", "还有哈尔滨零下二十几度 这件扛的住吗"]),
])
def test_a_message_is_cut_into_its_questions(message, expected):
    assert asks(message) == expected


@pytest.mark.parametrize("message", [
    "165 110斤穿啥码呀",
    "在吗",
    # 还是 that says "still" tells, it offers no alternative (a rater's round: "…订单详情里显示的还是老地址诶" was a
    # question of its own, and "改好了吗" alone was answered about changing the price)
    "改好了吗 我这边订单详情里显示的还是老地址诶😅",
    "催过了 物流还是没动",
    "发什么快递 中通吗",  # too short to be a question of its own: it goes on with the one before
    "是现货吗 能吗",
    "會送到家嗎 還是放驛站",  # an alternative is one question
    "追评在哪里写 想补几张买家秀",  # 几 of a number of pictures does not ask
    "订单号2024112310558837 你们自己查 再不发我就退款了还要给差评😡",
    "现在都晚上八点了 物流还没更新啊 不是说当天发的吗",
    # measurements with a question about size stay with it; an order number is no measurement
    "173 65kg 选L会不会大",
    "订单号3309128845 发货了吗",
    # "which one to buy" after measurements asks which size (it was read as how to place an order, and answered so)
    "那我腰围2尺1 臀围90 拍哪个",
    "165 100斤 选哪个好",
    # giving in ("行吧", "那好吧") asks nothing
    "行吧 那我拍了",
    "那好吧 能退吧",
])
def test_a_message_asking_one_thing_stays_whole(message):
    assert len(asks(message)) == 1, asks(message)


@pytest.mark.parametrize(
    "message, asked",
    [
        ("松点的吧 那就拿大那个码 现在拍啥时候能发货", "现在拍啥时候能发货"),
        ("那就L吧 什么时候发货", "什么时候发货"),
        ("行 就拿28 大概几天能到", "大概几天能到"),
        ("要黑色吧 黑色有货吗", "黑色有货吗"),
        ("好 那就L吧 什么时候发", "什么时候发"),
        # told what the question is about: kept whole
        ("我是油皮 这个适合吗", None),
        ("好 165 110斤穿M到哪", None),
        ("买了两百多 说好的收纳袋呢 拆开没看到啊", None),
        # only agreeing, no choice: kept whole (the opener rule reads it)
        ("好 那运费险能赔多少", None),
        # nothing asked, or nothing told before the question
        ("那就M吧 谢谢", None),
        ("什么时候发货", None),
    ],
)
def test_a_choice_told_before_a_question_is_not_what_it_asks(message, asked):
    """A rated conversation: "松点的吧 那就拿大那个码 现在拍啥时候能发货" read as none (the choice blurred the question) and
    got a holding reply about comparing the size chart; the question alone asks when it ships."""
    assert after_choice(normalize(message)) == asked


def test_nothing_is_lost_in_the_cutting():
    message = normalize("腰围71 臀围95 穿几码 还有这个能便宜点吗 急用")
    assert "".join(asks(message)).replace(" ", "") == message.replace(" ", "")


def _candidate(id_: str, text: str, point: str, score: float, missing=(), check=None, presumes=()) -> Candidate:
    reply = StandardReply(id_, text, ("product",), "售前", "answer", knowledge_point=point, presumes=presumes)
    return Candidate(reply, point, score, text, tuple(missing), check, "")


def test_the_joined_reply_greets_once_and_carries_what_each_part_needs():
    assert join_texts(["亲，这款有货哦～", "亲，今天4点前拍当天发", "亲亲，可以开发票的"]) == "亲，这款有货哦～今天4点前拍当天发。可以开发票的"
    assert join_texts(["燕麦色有货的", "亲，可以机洗"]) == "亲，燕麦色有货的。可以机洗"  # the greeting stays
    assert join_texts(["燕麦色有货的", "可以机洗"]) == "燕麦色有货的。可以机洗"
    # a first part saying 亲 after its opening words is not greeted twice ("亲，真抱歉亲，…"); 亲自 is no greeting
    assert join_texts(["真抱歉亲，赠品漏了", "亲，我这就核对"]) == "真抱歉亲，赠品漏了。我这就核对"
    assert join_texts(["负责人会亲自跟进", "亲，我这就核对"]) == "亲，负责人会亲自跟进。我这就核对"
    parts = [
        _candidate("a-01", "亲，这款有货哦～", "product.stock", 0.7, presumes=("in_stock",)),
        _candidate("b-02", "亲，发【快递】", "logistics.courier-which", 0.9, missing=("courier",), check="先确认已发货",
                   presumes=("in_stock", "shipped")),
    ]
    joined = joined_candidate(parts)
    assert joined.text == "亲，这款有货哦～发【快递】" and joined.parts == ("a-01", "b-02")
    assert joined.missing == ("courier",) and joined.needs_check == "先确认已发货" and joined.score == 0.9
    assert joined.reply.presumes == ("in_stock", "shipped") and joined.reply.knowledge_point == "product.stock"
    # the same replies joined again: the same id (its adoption is learnt); another order or set: another id
    assert joined.reply.id == joined_id(["a-01", "b-02"]) != joined_id(["b-02", "a-01"])
    assert joined.reply.id.startswith("joined-") and len(joined.reply.id) <= 40


def test_an_answer_that_asks_the_customer_something_goes_last():
    """A rater's joined reply asked "方便再说下您的身高吗？" and then went on about washing: the customer reads a
    question mid-message and the answers after it. An answer ending in a question to the customer goes after
    the others (otherwise in the order asked); two of them keep their order."""
    size = _candidate("size-01", "亲，按您说的体重建议M码，方便再说下您的身高吗？", "size.recommend", 0.6)
    wash = _candidate("wash-01", "亲，这款可以机洗，选羊毛档就好～", "product.care", 0.7)
    stock = _candidate("stock-01", "亲，燕麦色有货的", "product.stock", 0.5)
    joined = joined_candidate([size, wash, stock])
    assert joined.text == "亲，这款可以机洗，选羊毛档就好～燕麦色有货的。按您说的体重建议M码，方便再说下您的身高吗？"
    assert joined.parts == ("wash-01", "stock-01", "size-01") and joined.why == "分别回答3个问题：product.care + product.stock + size.recommend"
    # the first question asked still names the joined reply's point
    assert joined.reply.knowledge_point == "size.recommend" and joined.point == "size.recommend"
    colour = _candidate("colour-01", "亲，您喜欢浅色还是深色呢～", "product.colour", 0.5)
    assert joined_candidate([size, colour, wash]).parts == ("wash-01", "size-01", "colour-01")
    assert joined_candidate([wash, stock]).parts == ("wash-01", "stock-01")  # no question: the order asked
    assert asks_back("亲，建议28码；方便再说下您的身高吗，我帮您看得更准～") and asks_back("您喜欢浅色还是深色呢～")
    assert not asks_back("亲，我帮您看看有没有能领的券，能省一点是一点哦。") and not asks_back("亲，吗啡不卖的。好的")


@pytest.mark.slow
def test_the_reply_evaluation_reads_a_joined_reply(client):
    """`huashu evaluate-replies` looked every offered reply up in the corpus and stopped with a KeyError at the first
    joined one (its id is made per conversation). It reads a joined reply's intents from its parts."""
    from service.cli.models import score_replies

    state = client.app.state
    message = "能开发票吗 是电子的还是纸质的"
    record = {"message": message, "accept": ["invoice.can-issue", "invoice.type"], "intents": ["other"]}
    first = client.post("/v1/suggest", json={"message": message}).json()["replies"][0]
    assert first["parts"], first  # the case is a joined reply
    result = score_replies(state.analyzer, state.replies, state.guidance, [record])
    assert result["n"] == 1 and result["top1_intent_fit"] == 1.0, result
