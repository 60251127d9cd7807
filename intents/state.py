"""What the conversation has established about the order: shipped or not, received, in stock, returned,
refunded, agreed … Read from what the customer and the agent said, so that a reply presuming a fact nobody
established is not offered as if it were true.

Each fact is True (said), False (its opposite was said) or absent (nobody said). A question ("发货了吗")
establishes nothing; a negation ("还没发货") establishes the opposite.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Sequence

# In the rest of a cue's clause, a question: "穿上会显胖吗", "穿上后会不会起球".
_ASKED_LATER = re.compile(r"[吗么嘛?？]|会不会|是不是|能不能|有没有|怎么样|咋样|如何")
# Words that turn a statement into its negation when they come just before it.
_NEGATION = re.compile(r"(没有|还没|没|未|不|尚未|并未|别)\s?$")
# Where a clause ends: punctuation; and a 没有, or the 了没 asking a question, with a space after it ends its clause
# ("门口也没有 问了物业也…", "今天发了没 物流咋还没显示"),
# where a bare 没 before a space still negates the word after it ("还没 发货").
_CLAUSE_END = re.compile(r"[，,。.!！~?？;；]")
_ENDS_CLAUSE = re.compile(r"(?:没有|了没)\s+$")


@dataclass(frozen=True)
class Cue:
    fact: str
    pattern: re.Pattern
    by: tuple[str, ...] = ("customer", "agent")  # who can establish it
    negatable: bool = True
    value: bool = True  # what saying it establishes (False: the words themselves deny the fact)
    recent: bool = False  # only the customer's last two turns count
    clause: bool = False  # a question anywhere later in its clause ("穿上会显胖吗") makes it asked, not said


def _cue(fact: str, words: str, by=("customer", "agent"), negatable=True, value=True, recent=False, clause=False) -> Cue:
    return Cue(fact, re.compile(words), tuple(by), negatable, value, recent, clause)


CUES: tuple[Cue, ...] = (
    _cue("shipped", r"已经?发货|发货了|已经?发出|发出了|寄出了|已揽收|揽收了|在路上|物流显示|派送中|正?在派送|到中转|包裹.{0,4}发出(?!后|以后|之后|时|的时候)"),
    # The parcel in the customer's city, at a local branch or station, or out for delivery today.
    _cue("shipped", r"已经?到达?了?(您|你)?(所在的?|那边的?|当地的?)?(城市|网点|驿站|快递点)|今天会派送|正在安排派送|派件中"),
    # Out for delivery: what the tracking shows once the local courier has the parcel ("显示在派送了", the agent's
    # "今天会派送"); "什么时候派送", "还没派送吗" ask, and say nothing.
    _cue("out_for_delivery", r"派送中|派件中|正?在派送|显示.{0,3}派送|今天(会|就)派送|正在安排派送"),
    # "没法货": a typo of 没发货 customers make (法 and 发 share a pinyin).
    # ("发没发", "发没发货": asking, the A-not-A form.)
    _cue("not_shipped", r"(?<!发)(?:(还)?没(有)?发(货|出)?|没(有)?法货)|未发货|尚未发货|还没寄|没动静", negatable=False),
    # ("到货了能通知我吗" is a restock.)
    _cue("delivered", r"收到了|(?<![能会])收到货|签收了|拿到了|到货了(?!能|再|通知|告诉|记得)|已签收|穿了|用了|戴了|洗了|试了"),
    # worn or washed a number of times ("穿一天就起球", "洗一次就缩了", "才穿两次"; not "会不会穿两次就起球")
    # (of this order: "之前买的毛衣穿两次就全是球" is another one)
    _cue("delivered", r"^(?!.*(?:之前|上次|以前|上回|别家|别的店).{0,3}买).*?(?<![会能要怕])[穿洗戴用]了?\s?(?:[一两二三]|\d)\s?(?:次|天|回|水)", clause=True),
    # "收到有点小", "收到的衣服…": what the customer found on receiving it.
    _cue("delivered", r"收到(后|以后|之后)?(有点|发现|感觉|一看|打开)|收到的(衣服|东西|货|宝贝|裤子|鞋|包裹)"),
    # Part of it received ("我就收到两个小样", "只收到了一件"): something came.
    _cue("delivered", r"(?:只|就|才)收到了?\s?(?:[一两二三四五六七八九]|\d+)\s?(?:个|件|样|条|双|包|盒|瓶|支|只|套)", by=("customer",)),
    # The thing itself arrived ("热水器到了", "东西今天到了"; at a station or a locker it is only on its way), or is
    # worn, fitted or unboxed ("穿上有点紧", "穿着有点紧", "上脚有点挤"). Pre-sale worries say these words too ("穿上会显胖吗"):
    # said in a question, they establish nothing.
    # The customer's own words only, and "到了" ending its clause: "快递到了北京" / the agent's "包裹已经到了您所在的城市"
    # are on the way. Wearing or unboxing needs the thing in hand, negated or not ("还没开箱", "还没拆开", "没拆封的").
    # An exchange or a resend arrived too ("之前换的L到了", "补发的那件到了").
    _cue("delivered", r"(东西|货|快递|包裹|宝贝|衣服|裤子|鞋子?|裙子|外套|商品|热水器|机器|电器|(?:换|补发|补寄|重发)的(?:[A-Za-z0-9]{1,4}码?|那件|这件|那双|这双|那条|这条|新的|货|衣服|裤子|裙子|鞋子?)?)"
                      r"(已经|今天|昨天|刚刚?|终于)?都?"
                      r"(到了|送到了|到家了)(?!\s*(驿站|快递柜|丰巢|菜鸟|网点|城市|哪))(?=\s|$|[，,。.!！~?？]|啊|呀|哦|哈)"
                      r"|(今天|昨天|前天|大前天|刚刚?|前几天|上周[一二三四五六日天]?|\d+号)(?:收到|签收|到)的(?!话)|刚到货", by=("customer",), clause=True),
    _cue("delivered", r"穿上(了|后|以后|之后|去)|穿[上着](有点|太|很|根本|挺|特别|还)|上脚(了|后|有点|太|很|挺|特别)|试穿了|装上了|安装好了|开箱了?"
                      r"|拆开(?!心|发|寄|卖|买|分)|拆封",
         by=("customer",), negatable=False, clause=True),
    # A fit found wrong, said of the goods ("鞋子小了", "买大了", "裤子有点短了"): they were tried on. Not a worry ("怕买小了",
    # "要是大了能换吗"), a question ("会不会小了") nor a size ordered by mistake ("拍小了 能改吗": before it ships, as often).
    _cue("delivered", r"(?<!怕)(?<!担心)(?<!如果)(?<!要是)(?<!万一)(?<!假如)(?<!会不会)"
                      r"(?:(?:买|发)(?:的|得)?(?:有点|太|偏)?[大小]了|(?:鞋子?|衣服|裤子|裙子|外套|毛衣|羽绒服|上衣|这件|这双|这条|那件|那双|那条)"
                      r"(?:有点|太|偏|稍微|略|真的|确实)?[小大紧肥长短]了)",
         by=("customer",), clause=True),
    # Receipt confirmed on the platform, by the customer ("确认收货后…" is the rule; "被自动确认收货了" is not having it).
    # Before the cue below: "确认收货了 但东西没收到" is not delivered.
    _cue("delivered", r"(?<![被动])(已经?|我|刚)?确认(了)?收货了|(?<![被动])已确认收货|点了确认收货", by=("customer",), clause=True),
    # Something else not received (an invoice, a text message, the refund) says nothing of the parcel, before the
    # words or after them ("没收到发票", "发票还没收到", "还没收到快递短信").
    _cue("delivered", r"(?<!发票)(?<!赠品)(?<!发票还)(?<!赠品还)(?<![信知款])(?<![信知款]还)"
                      r"(还)?没(有)?(收到(?!钱|退款|发票|.{0,3}(短信|通知|验证码|取件码|消息|回复|邮件|电话)|补偿|赠品|红包|券)"
                      r"|到货|拿到(?!发票|券|红包))"
                      r"|还没到(?!账)|一直没到(?!账)|没送到", negatable=False, value=False),
    _cue("refund_done", r"(还)?没(有)?(退款|到账|退回来)|退款.{0,4}没到|钱.{0,3}没(收到|到)", negatable=False, value=False),
    # An order shown: placed, paid, its number, or "我的订单" (`ordered`, which is `has_order` too, and what rules out
    # the replies telling the customer to order). Talk of returns or of what was bought (below) is `has_order` only:
    # a shopper asks "退货运费谁出" too. Not a purchase supposed ("现在买了到时候降价能补吗", "买了送袜子吗",
    # "如果拍下今天能发吗"); "拍下" is also a photograph ("能拍下走线吗").
    _cue("ordered", r"(?<!现在)(?<!如果)(?<!要是)(?<!假如)(?<!万一)(?<!准备)(?<!打算)(?<!马上)(?<!这就)(?<![想要怕])"
                      r"(?<!话我就)(?<!话就)(?:拍了|拍下(?!.{0,3}(?:走线|细节|logo|内衬|里面|视频|照片|图|做工|实物|给我看))|下单了|买了)"
                      r"(?!送|的话|会不会|能不能|可以|今天|明天)"
                      r"|下了单|(?<!在哪)下的单|付款了|付了款|已付款|我的订单|订单号|刚拍|已下单|(?:拍|付|买|下单)好了(?!再|就|的话)"
                      # the count ordered ("我下了三件", "下了两单")
                      r"|(?<![想要])下了(?:[一两二三四五六七八九十几]|\d+)\s?(?:件|单|个|双|条|套|份|盒|瓶|样)"
                      # the customer's own purchase, or one with its day ("我拍的M码", "前天拍的那件")
                      r"|(?:(?<![想要给])我|昨天|前天|今天|刚刚?|前几天|上周|上午|下午|早上|晚上|\d+号)(?:拍|买|付)的(?!话|人)"
                      # paid at a time of day ("我4点05付的", "三点半拍的")
                      r"|(?:\d{1,2}|[一两二三四五六七八九十]{1,2})点(?:半|过|多|\d{1,2}分?)?(?:才|就)?(?:(?:付|拍|下单)的(?!话)|下的单)"
                      r"|我这单|我的单|我那单|上一单"
                      # its number pasted after 订单 ("订单4012 7786 5523 0918 说好送化妆包")
                      r"|订单(?:编号)?[:：是]?\s?\d{4}"),
    # Talking about a purchase already made: "按你们推荐的码买的", "这单", "质量问题退货" (a question, "能退货吗", says nothing).
    # Not one the customer means to buy ("想买的那款", "准备拍的是M码") nor others' ("有买的人说", "看别人买的").
    # Nor a purchase for someone, made before or in another shop ("给我爸买的", "上次买的那件", "别家买的"): the
    # pre-sale answers still hold for what is asked now.
    _cue("has_order", r"(?<![想要备算有代])(?<!别家)(?<!他家)(?<!人家)(?<!别人)(?<!大家)(?<!他们)(?<!朋友)(?<!上次)(?<!之前)"
                      r"(?<!以前)(?<!上回)(?<!给.)(?<!给..)(?<!给...)(?<!给....)(?:买|拍)的(?!话|人)"
                      r"|这单|我的单|那单|上一单|退货|换货|寄回|申请了?退款", by=("customer",)),
    # An order placed moments ago ("刚拍了一单", "刚拍的 地址写错了", "今天刚付款"): not left yet (`EXCLUDES`), though
    # nobody said it has not shipped. Not one some days ago ("昨天刚拍的", "2天前刚下单"), nor a time looked back on
    # ("刚下单那会儿说24小时发"), nor "刚买的" (said of goods in hand as often), nor a photo ("刚拍的照片", "刚拍了视频").
    _cue("just_ordered", r"(?<!昨天)(?<!前天)(?<!天前)(?<!几天)(?<!上周)(?<!昨晚)(?<!号)(?<!不是)刚刚?"
                         r"(?:拍了(?:一单|单|下|(?=[\s，,。.!！~]|$))|拍的(?!照|图|视频|张|几张|那张)|拍下了?"
                         r"|下单|下的单|下了单|下完单|付款|付的款|付了款|付完款)(?!的时候|那会|时)",
         by=("customer",), negatable=False, recent=True),
    _cue("in_stock", r"有货|现货|还有的|库存充足", by=("agent",)),
    _cue("out_of_stock", r"断货|没货|缺货|售罄|卖完了|没有库存", by=("agent",), negatable=False),
    _cue("return_sent", r"寄回(去)?了|已经寄回|退货寄出|退回去了|寄出去了|退货单号|已经寄了"),
    _cue("return_sent", r"寄回的(东西|包裹|货|衣服)|退货寄错", by=("customer",)),
    # The parcel left at a locker or a station ("快递说放丰巢了"), its pickup code or the station's keeper talked of
    # ("没收到取件码", "驿站老板说找不到"): it has shipped. Asked before it ships ("能放快递柜吗"), nothing.
    _cue("shipped", r"放(?:在|到)?了?(?:丰巢|快递柜|驿站|菜鸟|门卫|快递点)(?:了|里)|取件码|(?:驿站|快递点|丰巢)(?:老板|的人|那边)?说",
         negatable=False),
    # The customer reading the tracking ("物流怎么显示退回了", "查物流说是问题件"): the parcel has left.
    # (Not "物流咋还没显示": nothing shows yet.)
    _cue("shipped", r"物流[^没不未]{0,3}(显示|说|写)|查物流", by=("customer",)),
    _cue("return_received", r"(仓库|我们)(已经)?收到(了)?(您的)?退货|退货(已)?签收|退回的包裹.{0,4}收到", by=("agent",)),
    _cue("refund_approved", r"(已经?|这边)?同意(了)?(您的)?(退款|退货|申请)|审核通过|申请通过了", by=("agent",)),
    _cue("refund_done", r"退款成功|已退款|钱退了|已经退款|退款到账|已原路退回"),
    _cue("shop_fault", r"是我们的(失误|问题|责任|疏忽)|我们发错了|我们漏发了|是我们没", by=("agent",), negatable=False),
    # Owned in other words ("核实了确实是仓库发错了"); not asked ("查一下是不是仓库发错了"), supposed ("如果是仓库发错了")
    # nor denied ("不是仓库发错了").
    _cue("shop_fault", r"(?<!是不是)(?<!是不)(?<!是否)(?<!如果)(?<!如果是)(?<!要是)(?<!假如)(?<!假如是)(?<!万一)(?<!万一是)"
                       r"(确实|的确)?是?(我们|仓库)(这边|那边)?的?(发错|漏发)了|(确实|的确)是(我们|仓库)(这边|那边)?的(失误|问题|疏忽)",
         by=("agent",), clause=True),
    # The agent named an amount to make it up ("给您补偿20元可以吗", "退您15块差价"): an offer the customer may haggle over.
    _cue("offered", r"(?:补偿|补|退款?|返|赔)(?:您|给您)?\s?\d+(?:\.\d+)?\s?(?:元|块)", by=("agent",), negatable=False),
    _cue("action_done", r"已经?(帮您|为您|给您)|已提交|已经提交|已备注|已经备注|已催|已经催|已登记|已补发|已经补发", by=("agent",)),
    # The agent said the price cannot move ("价格已经是活动最低了，实在没办法再改价"): a reply offering to ask for a
    # discount all the same ("我拿去帮您申请抹掉") would take it back (`not_refused`).
    _cue("price_refused", r"(?:没办法|没法|不能|无法|改不了)再?(?:改价|降价|降|便宜|优惠|少)|已经是(?:活动)?(?:最低价?|底价)|价格(?:已经)?是最低|改不了价",
         by=("agent",), negatable=False),
    # The customer has waited days ("已经等了一周了", "都三天了", "好几天了"): past any usual time, so a reply stating the
    # usual time ("付款后48小时内发货") answers nothing. Only the customer's last two turns count.
    _cue("waited_long", r"等了(快|差不多|将近|整整)?(一|两|三|四|五|六|七|八|九|十|几|好几|\d+)\s?(天|周|个?星期|个?礼拜|个月)"
                        r"|(都|已经|快|拍了|买了|下单|付款)(一|两|三|四|五|六|七|八|九|十|几|好几|\d+)\s?(天|周|个?星期|个?礼拜|个月)了"
                        r"|好几天了|一个?(星期|礼拜)了"
                        # the day named ("今天都周三了"), or the promise cited ("写的48小时发货", "说好两天发")
                        r"|都(周|星期|礼拜)[一二三四五六日天]了|(写的|说好的?|承诺的?|不是说)\s?\d+\s?(小时|天)",
         by=("customer",), negatable=False, recent=True),
    # A presale item ("这款是预售款", "我买的预售"): it ships on its date, not within the usual time. Asked ("是预售吗",
    # "不是预售吧") or denied ("不是预售"), nothing.
    _cue("presale", r"(?<!不是)(?<!是不是)预售(?!吗|么|还是|不|吧|嘛)", clause=True),
    # The customer already looked, asked or tried (问过了, 查不到, 没有那个按钮, 试了还是不行): a reply telling them
    # to do it is no answer. Said in the customer's last two turns only: an old attempt was about something else.
    _cue("not_tried", r"(问|找|查|看|试|翻|搜|重启|重装)过了?|(问|找|查|试|翻|搜)了(半天|好几遍|好多遍|几次|一圈|个遍|.{0,3}(没|不|还是|也))"
                      r"|都(问|找|查|试|翻|看)(了|过|遍)|翻遍|找遍|(找|查|搜|看)(不到|不着)|没(找|查|搜|看)(到|着)"
                      r"|还是(不行|没有|查不到|找不到|不亮|没反应)|(都|也)没有(?=$|[\s，,。.!！~啊呀哦])"
                      r"|没有?(那个|这个)?(按钮|选项|入口|短信|取件码|验证码)|没收到(短信|取件码|验证码)"
                      # where a parcel could be, ruled out ("家里没人收到", "小区也没有快递柜")
                      r"|(家里|家人)?没人(收到|签收|代收|拿到)|(也|都)?没有(快递柜|驿站|门卫|丰巢)",
         by=("customer",), value=False, recent=True),
)
# Facts that cannot both hold.
OPPOSITES = {"shipped": "not_shipped", "not_shipped": "shipped", "in_stock": "out_of_stock", "out_of_stock": "in_stock"}
# What a fact implies.
IMPLIES = {"delivered": ("shipped", "has_order", "ordered"), "shipped": ("has_order", "ordered"),
           "out_for_delivery": ("shipped", "has_order", "ordered"), "return_sent": ("delivered",),
           "return_received": ("return_sent",), "refund_done": ("has_order", "ordered"), "not_shipped": ("has_order", "ordered"),
           "just_ordered": ("has_order", "ordered")}
# What a fact rules out: a parcel not shipped has not been received.
EXCLUDES = {"not_shipped": ("delivered",), "just_ordered": ("shipped", "delivered")}
# Agreement words: after an agent's offer, the customer agreeing makes it `agreed`.
_AGREE = re.compile(r"^(好的?|行|可以|嗯+|ok|OK|没问题|那就这样|就这么办|同意)")
_OFFER = re.compile(r"部分退款|补偿|退您|退给您|给您退|赔|优惠|改价|换货|补发|退差价")


@dataclass
class ConversationState:
    facts: dict[str, bool] = field(default_factory=dict)

    def holds(self, fact: str) -> bool | None:
        if fact == "no_order":  # nothing ordered yet: the opposite of `ordered` (an order shown, not only talked of)
            ordered = self.facts.get("ordered")
            return None if ordered is None else not ordered
        if fact == "in_time":  # not waited past the usual time: the opposite of `waited_long`
            return False if self.facts.get("waited_long") else None
        if fact == "not_refused":  # the agent has not said the price cannot move
            return False if self.facts.get("price_refused") else None
        if fact == "before_shipping":  # the parcel not shown to have left
            return False if self.facts.get("shipped") else None
        if fact == "before_delivery":  # the parcel not shown to have arrived
            return False if self.facts.get("delivered") else None
        if fact == "not_presale":  # not a presale item: the opposite of `presale`, said either way
            presale = self.facts.get("presale")
            return None if presale is None else not presale
        return self.facts.get(fact)

    def forget(self, *facts: str) -> None:
        for fact in facts:
            self.facts.pop(fact, None)

    def set(self, fact: str, value: bool) -> None:
        self.facts[fact] = value
        if fact == "ordered":  # an order shown, or denied ("还没下单"): so is the talk of one
            self.facts["has_order"] = value
        if fact in OPPOSITES:
            self.facts[OPPOSITES[fact]] = not value
        if value:
            # What it implies holds, whatever was said before ("拖了好久都没发货 今天终于收到了": shipped after all),
            # and so do their opposites' negations (received, so shipped: not "not shipped").
            for implied in IMPLIES.get(fact, ()):
                self.facts[implied] = True
                if implied in OPPOSITES:
                    self.facts[OPPOSITES[implied]] = False
            for excluded in EXCLUDES.get(fact, ()):
                self.facts.setdefault(excluded, False)


def _statements(text: str, cue: Cue):
    """Each occurrence of the cue that is said (not asked), with whether it is negated."""
    for match in cue.pattern.finditer(text):
        after = text[match.end() : match.end() + 6]
        if re.match(r"\s*(吗|么|没有?|了没|了吗|没\?|\?|？|不(?=$|[\s?？，,。]))", after):
            continue  # a question establishes nothing
        if re.match(r"(会不会|会|能不能|多久|要是|的话|以后|之后|不合适|不合身|不喜欢)", after):
            continue  # nor what would follow, said in one breath ("洗了会不会缩水", "拍了多久能发", "买了不合适怎么办")
        if cue.clause and _ASKED_LATER.search(re.split(r"[，,。.!！~\s]", text[match.end() :], maxsplit=1)[0]):
            continue
        # a negation ending the clause before ("门口也没有 问了物业…", "没有，问了…") negates nothing here
        before = _CLAUSE_END.split(text[max(0, match.start() - 3) : match.start()])[-1]
        negated = cue.negatable and bool(_NEGATION.search(before)) and not _ENDS_CLAUSE.search(text[: match.start()])
        yield negated


def read_state(turns: Sequence[tuple[str, str]]) -> ConversationState:
    """The facts established by `turns` ((role, normalised text), oldest first, the newest message last)."""
    state = ConversationState()
    last_agent = ""
    customer_turns = [i for i, (role, _) in enumerate(turns) if role == "customer"]
    recent = set(customer_turns[-2:])
    for i, (role, text) in enumerate(turns):
        for cue in CUES:
            if role not in cue.by or (cue.recent and i not in recent):
                continue
            for negated in _statements(text, cue):
                state.set(cue.fact, cue.value != negated)
        if role == "customer" and last_agent and _OFFER.search(last_agent) and _AGREE.match(text.strip()):
            state.set("agreed", True)
        # The agent agreeing to what was asked ("亲，好的，您先拍下不付款，我这边帮您改价哦"): agreed too.
        if role == "agent" and _OFFER.search(text) and _AGREE.match(re.sub(r"^(亲+|您好)[，,~！!\s]*", "", text.strip())):
            state.set("agreed", True)
        if role == "agent":
            last_agent = text
    return state
