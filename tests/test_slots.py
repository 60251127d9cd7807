"""Slots and conversation facts: what the customer named, and what the conversation established."""

import pytest

from intents.normalize import normalize
from intents.slots import asked_size, conversation_slots, customer_cannot_give, customer_gave, read_slots
from intents.state import read_state


@pytest.mark.parametrize(
    "message, expected",
    [
        ("能走中通吗", {"courier": "中通"}),
        ("订单号3829104475562018 怎么还没发", {"order_id": "3829104475562018"}),
        # A second number listed after an order number is another order, not a waybill (a dev conversation's two orders
        # to merge read as shipped, and the merge reply said the first had left)
        ("能一起发吗 订单4128836601927 和4128836603390", {"order_id": "4128836601927"}),
        ("两单一起发 订单号3920174458、3920174459", {"order_id": "3920174458"}),
        # (a review) a kind only guessed from the length is not copied, nor one to a number of another length
        ("3920174458216633和773012584466", {"order_id": "3920174458216633", "tracking_no": "773012584466"}),
        ("订单号是3920174458216633,773012584466是快递单号", {"order_id": "3920174458216633", "tracking_no": "773012584466"}),
        ("中通单号 773012584466 和 773012584467 都没动", {"tracking_no": "773012584466", "courier": "中通"}),
        ("快递单号YT7584920301843 到哪了", {"tracking_no": "YT7584920301843", "courier": "圆通"}),
        ("中通单号 773012584466 查不到", {"tracking_no": "773012584466", "courier": "中通"}),
        ("要黑色的L码 兩件", {"size": "L", "colour": "黑色", "quantity": "2件"}),
        ("38码偏大吗", {"size": "38码"}),
        ("这件199元还能便宜吗", {"amount": "199元"}),
        ("周五前能到吗", {"date": "周五"}),
        ("我电话15902116483", {}),  # a phone is personal, never a slot
        ("有色差吗", {}),
        ("一个月了还没到", {}),
        # how far off a size is, not how many: "two sizes too small"
        ("小了两个码 能换吗", {}),
        ("大了一个号", {}),
        ("买两个 一个M一个L", {"size": "M", "quantity": "2个"}),
        # height/weight, not a size label (号型 like 165/88A is one)
        ("165/110斤穿什么码", {}),
        ("170/130斤 穿XL可以吗", {"size": "XL"}),
        ("平时穿165/88A", {"size": "165/88A"}),
        # the courier the customer names is the one the message is about, not the one a pasted number shows
        ("能走中通吗 单号SF1234567890123", {"tracking_no": "SF1234567890123", "courier": "中通"}),
        # the courier changed to is the one wanted, not the one complained of (the reply offered to note 韵达)
        ("韵达我们这不送上门啊 能换邮政吗", {"courier": "邮政"}),
        ("中通太慢了 能发顺丰吗", {"courier": "顺丰"}),
        ("别发韵达 圆通可以吗", {"courier": "圆通"}),
        ("写着顺丰给我发韵达 就一句也很快？", {"courier": "顺丰"}),
        # when the order was placed, paid or received is not the date the customer needs something by
        ("今天拍的 什么时候发货", {}),
        ("我3号下的单 到现在还没发", {}),
        ("今天刚付款 周六前能到吗", {"date": "周六"}),
        ("今天拍明天能发吗", {"date": "明天"}),
        ("今天能发吗", {"date": "今天"}),
        # numbers pasted as apps print them, in groups: one number (a phone stays personal however it is spaced)
        ("亲，已经给您补发了哦，中通单号 7730 1258 8823 4", {"tracking_no": "7730125888234", "courier": "中通"}),
        ("订单号 3829-1044-7556-2018 还没发", {"order_id": "3829104475562018"}),
        ("SF 1234 5678 9012 3 到哪了", {"tracking_no": "SF1234567890123", "courier": "顺丰"}),
        ("打我电话 159 0211 6483", {}),
        ("165 110斤 穿多大", {}),
        # a one-character colour inside another word is no colour (白天 was read as 白色)
        ("能放快递柜吗 我白天上班不在家", {}),
        ("明白了 那我再等等", {}),
        ("蓝牙耳机能连苹果吗", {}),
        ("红包什么时候发", {}),
        ("领了粉丝券还能用满减吗", {}),
        ("我要拉黑你们", {}),
        # a one-character colour describing skin or a change is no colour wanted (换季脸就红 filled 红色)
        ("换季脸就红 敏感肌能用吗", {}),
        ("晒黑了用这个能白回来吗", {}),
        ("一洗就发黄 怎么回事", {}),
        ("脸容易泛红", {}),
        ("那就白的", {"colour": "白色"}),
        ("发黑的就行", {"colour": "黑色"}),
        ("有白的吗 要M", {"colour": "白色", "size": "M"}),
        ("白M 两件", {"colour": "白色", "size": "M", "quantity": "2件"}),
        ("那黑呢", {"colour": "黑色"}),
        # an address's numbers are no date, an article's number and "the other one" no quantity
        ("地址我补全了 朝阳区双桥东路12号院3号楼", {}),
        ("寄到星光路8号 菜鸟驿站", {}),
        ("按照消法第24条你们应该给我退", {}),
        ("那另一个单号多少", {}),
        ("其中一件有线头", {}),
        ("我要给老公买一件", {"quantity": "1件"}),
        ("15号以后再发吧", {"date": "15号"}),
        # the size a customer changes to is the one they want, not the one they ordered
        ("昨天下的单选的M码 想换成L 应该还没发货吧", {"size": "L"}),
        ("拍的XL 能改M吗", {"size": "M"}),
        # "想要" too, and a bare number changed to (a rater's round: "现在66的 想要73" got "您告诉我想换成哪个码")
        ("衣服小了 现在M 想要L", {"size": "L"}),
        ("宝宝衣服小了 能换个大一码的吗 现在66的 想要73", {"size": "73码"}),
        ("换成100的吧", {"size": "100码"}),
        ("想要2个", {"quantity": "2个"}),
        # and so is the colour (a rater's round: "灰色那件想换成藏青" got "想换成白色跟我说一声", the colour returned)
        ("白色那件想退 灰色那件想换成藏青", {"colour": "藏青"}),
        ("拍了卡其的 能改黑色吗", {"colour": "黑色"}),
        ("杏色的有货吗", {"colour": "杏色"}),
        ("M码偏大吗", {"size": "M"}),
        ("支持一件代发不", {}),  # dropshipping, not a count
    ],
)
def test_read_slots(message, expected):
    assert read_slots(normalize(message)) == expected


def test_the_latest_mention_wins_and_an_agent_turn_gives_only_courier_and_tracking():
    earlier = [("customer", "这件有燕麦色吗 要M码"), ("agent", "亲，今天下午发顺丰，单号SF1234567890123"), ("customer", "L码呢")]
    slots = conversation_slots("那就拍两件", earlier)
    assert slots == {"tracking_no": "SF1234567890123", "courier": "顺丰", "size": "L", "colour": "燕麦色", "quantity": "2件"}
    assert "date" not in slots  # "今天" was the agent's word


@pytest.mark.parametrize(
    "earlier, courier",
    [
        # the shop's default named by the agent is not the courier the customer wants ("您想发中通的话…" was wrong)
        ([("customer", "能发顺丰吗"), ("agent", "亲，默认是中通哦，顺丰需要补10元差价~")], "顺丰"),
        ([("customer", "韵达我这收不到"), ("agent", "亲，我们一般发中通或者圆通哦")], "韵达"),
        ([("agent", "亲，我们默认发中通哦")], None),
        # the parcel's courier, as the agent tells it, is
        ([("customer", "发货了吗"), ("agent", "亲，您的包裹走的是中通哦")], "中通"),
        ([("customer", "发货了吗"), ("agent", "亲，已经发出了，圆通 YT7584920301843")], "圆通"),
    ],
)
def test_an_agent_turn_names_the_courier_only_of_the_parcel(earlier, courier):
    assert conversation_slots("行 怎么弄", earlier).get("courier") == courier


@pytest.mark.parametrize(
    "turns, facts",
    [
        ([("customer", "发货了吗")], {}),  # a question establishes nothing
        ([("customer", "还没发货 能改地址吗")], {"not_shipped": True, "shipped": False}),
        ([("agent", "亲，您的包裹今天上午已经发出了呢")], {"shipped": True, "not_shipped": False}),
        ([("customer", "收到了 有点小")], {"delivered": True, "shipped": True}),
        ([("customer", "还没收到")], {"delivered": False}),
        ([("customer", "退款怎么还没到账")], {"refund_done": False}),
        ([("agent", "亲，燕麦色M码目前断货了哦")], {"out_of_stock": True, "in_stock": False}),
        ([("customer", "燕麦色M码断货了吧")], {}),  # only the shop can say what is in stock
        ([("agent", "亲，我们可以给您部分退款20元"), ("customer", "好的")], {"agreed": True, "offered": True}),
        # an amount named by the agent is an offer, asked or not; the customer's own figure is none
        ([("agent", "亲，确实是我们的问题，您看给您补偿20元可以吗？不用退回了~")], {"offered": True}),
        ([("agent", "亲，差价退您15块，已经提交了")], {"offered": True}),
        ([("customer", "补偿50我就不退了")], {}),
        # the parcel left at a locker or a station, or its pickup code talked of: it has shipped (a rater's round:
        # "快递说放丰巢了，我没收到取件码啊" got a reply checking first that the order had shipped)
        ([("customer", "快递说放丰巢了，我没收到取件码啊")], {"shipped": True}),
        ([("customer", "去了 驿站老板说找不到 取件码也没收到")], {"shipped": True}),
        ([("customer", "能放快递柜吗")], {}),  # asked, before it ships
        ([("agent", "亲，已经为您备注了")], {"action_done": True}),
        # a parcel in the customer's city or out for delivery has shipped
        ([("agent", "亲，包裹已经到您所在城市了，今天会派送")], {"shipped": True, "not_shipped": False}),
        ([("agent", "亲，快递已经到您那边的网点了")], {"shipped": True}),
        ([("customer", "物流显示到驿站了 但我没收到短信")], {"shipped": True}),
        ([("customer", "到我们城市了吗")], {}),  # a question establishes nothing
        ([("customer", "收到有点小 能换大一码吗")], {"delivered": True, "shipped": True}),
        ([("customer", "按你们推荐的码买的 穿上根本扣不上")], {"has_order": True}),
        ([("customer", "质量问题退货 邮费得你们出吧")], {"has_order": True}),
        ([("customer", "不合适能退货吗")], {}),  # a question before buying
        ([("customer", "查物流说是问题件？？这啥情况")], {"shipped": True}),
        ([("customer", "退货寄错地址了 寄到发货地那边了")], {"return_sent": True, "has_order": True}),
        ([("customer", "买的话能便宜点吗")], {}),
        ([("customer", "什么时候能收到")], {}),
        ([("customer", "还没收到的货能退吗")], {"delivered": False}),
        # The agent agreeing to a price change asked for: agreed.
        ([("customer", "改好价我再付款哈"), ("agent", "亲，好的，您先拍下不付款，我这边帮您改价哦")], {"agreed": True}),
        ([("customer", "帮我查下物流"), ("agent", "亲，好的，我这就帮您查一下")], {}),
        # The customer already looked or tried: a reply telling them to is no answer.
        ([("agent", "亲，可能放门卫或驿站了，您先问一下"), ("customer", "问过了 都没有")], {"not_tried": False}),
        ([("customer", "可我手机上没有取件码短信")], {"not_tried": False}),
        ([("customer", "表在哪 没找到")], {"not_tried": False}),
        ([("customer", "试了 还是不行")], {"not_tried": False}),
        ([("customer", "都一天了還是查不到")], {"not_tried": False}),
        ([("customer", "你们查过了吗")], {}),  # asked, not said
        ([("customer", "试了一下挺合适的")], {"delivered": True}),  # tried it on: nothing failed
        ([("customer", "我还没找过 在哪看")], {"not_tried": True}),
        # a negation ends with its clause: "没有" of the clause before does not negate "问了物业也…" (a round of our own
        # conversations: "门口也没有 问了物业也说没有" was read as not tried, and the customer told to look at the door)
        ([("customer", "显示签收了 门口也没有 问了物业也说没有")], {"not_tried": False}),
        # The thing itself arrived, or is worn, fitted or unboxed: delivered. Asked about, nothing.
        ([("customer", "热水器到了 怎么安装")], {"delivered": True, "shipped": True}),
        ([("customer", "东西今天到了，但是少了个配件")], {"delivered": True}),
        ([("customer", "快递到了吗")], {}),
        ([("customer", "衣服什么时候到")], {}),
        ([("customer", "快递到了驿站 我还没去拿")], {}),
        ([("customer", "穿上有点紧 能换大一码吗")], {"delivered": True}),
        ([("customer", "鞋子上脚有点挤")], {"delivered": True}),
        ([("customer", "穿上会显胖吗")], {}),
        ([("customer", "毛衣M码穿着有点紧")], {"delivered": True}),
        ([("customer", "这件穿着会不会有点紧")], {}),  # a worry before buying
        ([("customer", "这款穿上很显瘦吗")], {}),
        ([("customer", "穿上后会不会起球")], {}),
        ([("customer", "快递到了北京 还没派送")], {}),
        ([("customer", "快递到了 驿站")], {}),
        ([("agent", "亲，包裹已经到了您所在的城市哦")], {"delivered": None}),
        ([("customer", "今天到的话就买")], {}),
        ([("customer", "还没开箱 盒子就破了")], {"delivered": True}),
        ([("customer", "还没拆开 外面的盒子压扁了")], {"delivered": True}),  # unopened, but in hand
        # Something else not received is no parcel not delivered; confirming receipt is having it (a rater's round).
        ([("customer", "我上周就确认收货了 到现在都没收到发票")], {"delivered": True}),
        ([("customer", "一直没收到短信通知")], {"delivered": None}),
        ([("customer", "已经确认收货了")], {"delivered": True}),
        ([("agent", "亲，确认收货后3个工作日内开票哦")], {}),  # the rule, not this order
        ([("customer", "确认收货后多久开发票")], {}),
        # (a review) not confirmed, confirmed by the system, asked; other things not received; split shipping
        ([("customer", "还没到货 不敢点确认收货")], {"delivered": False}),
        ([("customer", "被自动确认收货了 东西还没到")], {"delivered": False}),
        ([("customer", "什么时候点确认收货")], {}),
        ([("customer", "发票还没收到")], {"delivered": None}),
        ([("customer", "赠品没收到")], {"delivered": None}),
        ([("customer", "还没收到快递短信")], {"delivered": None}),
        ([("customer", "能不能拆开发货 先发有货的")], {"delivered": None}),
        ([("customer", "帽子能拆开不")], {}),
        ([("customer", "没拆封的能退吗")], {}),  # a shopper asks this before buying too
        ([("customer", "还没拆封 能换个颜色吗")], {"delivered": True}),
        ([("customer", "拆开就是坏的 你看图")], {"delivered": True}),
        ([("customer", "拆开了还能退吗")], {}),  # asked before buying as often as after
        ([("agent", "亲，您拆开看一下里面有没有说明书哦")], {}),  # the agent presumes it; the customer never said
        # The agent owning the shop's mistake in other words (a rater's round: "核实了确实是仓库发错了" left a reply
        # asking for photos to check whether it was sent wrong); the customer saying so establishes nothing.
        ([("agent", "收到亲，核实了确实是仓库发错了，实在抱歉！")], {"shop_fault": True}),
        ([("agent", "亲，是仓库那边漏发了，给您补寄")], {"shop_fault": True}),
        ([("agent", "亲，确实是我们这边的问题")], {"shop_fault": True}),
        ([("customer", "肯定是你们仓库发错了")], {"shop_fault": None}),
        ([("agent", "亲，我这边查一下是不是仓库发错了")], {"shop_fault": None}),  # asked
        ([("agent", "亲，不是仓库发错了哦，是您拍的这个码")], {"shop_fault": False}),  # denied
        ([("agent", "亲，如果是仓库发错了，我们来回运费全包")], {"shop_fault": None}),  # supposed
        # An order placed moments ago has not left (a dev conversation: "刚拍了一单…又拍了一单 能一起发吗" was told
        # "您前一单已经在路上啦"); that it has not shipped is still not said, so a reply saying so keeps its check.
        ([("customer", "刚拍了一单猫砂 又拍了一单罐头 能一起发吗")], {"shipped": False, "not_shipped": None}),
        ([("customer", "刚拍的 地址写错了 能改吗")], {"shipped": False, "not_shipped": None}),
        ([("customer", "刚付款 能改个颜色吗")], {"shipped": False, "ordered": True}),
        ([("customer", "今天刚拍的 能改地址吗")], {"shipped": False}),
        ([("customer", "刚付完款 发什么快递")], {"shipped": False}),
        # (a review) a photo or a video just taken, a time looked back on, some days ago, denied: none of them
        ([("customer", "刚拍的照片 你看看 破了个洞")], {"shipped": None, "delivered": None}),
        ([("customer", "我刚拍了视频 你看下 一开机就响")], {"shipped": None}),
        ([("customer", "刚下单那会儿说24小时发 现在都三天了")], {"shipped": None}),
        ([("customer", "2天前刚拍的 能改地址吗")], {"shipped": None}),
        ([("customer", "不是刚拍的 都一个星期了还没到")], {"shipped": None}),
        # not when it was some days ago, nor bought in general ("刚买的就坏了" has been received)
        ([("customer", "昨天刚拍的 能改地址吗")], {"shipped": None}),
        ([("customer", "刚买的鞋子就开胶了")], {"shipped": None}),
        # said first, then the parcel shown on its way: shipped after all
        ([("customer", "刚拍的 能发顺丰吗"), ("agent", "亲，您的包裹已经发出了哦")], {"shipped": True}),
        # Only the customer's last two turns: an old attempt was about something else.
        ([("customer", "快递柜找过了 没有"), ("agent", "亲，我帮您联系快递"), ("customer", "好的 谢谢"),
          ("agent", "亲，快递说明天送"), ("customer", "尺码表在哪看")], {}),
    ],
)
def test_read_state(turns, facts):
    state = read_state([(role, normalize(text)) for role, text in turns])
    for fact, value in facts.items():
        assert state.holds(fact) is value, fact
    if not facts:
        assert state.facts == {}


@pytest.mark.parametrize(
    "message, earlier, gave",
    [
        ("[图片]截图发你了", [], {"photo"}),
        ("图已经发过去了 看下吧", [], {"photo"}),
        ("能发图片吗", [], set()),  # asks to send one: not sent yet
        ("你看一下我傳的圖", [], {"photo"}),
        ("看这个截图 是不是少发了", [], {"photo"}),
        ("15902116483", [], {"phone"}),
        ("新号码 159 0211 6483", [], {"phone"}),
        ("杭州某某贸易有限公司 税号91330106MA2H7K5Q3X", [], {"tax_id"}),
        ("那什么时候能开", ["杭州某某贸易有限公司 91330106MA2H7K5Q3X"], {"tax_id"}),
        ("订单号3829104475562018", [], set()),
        ("那你们重新给我发啊 地址我补全了 朝阳区双桥东路12号院3号楼", [], {"address"}),
        ("改到浙江省杭州市西湖区文三路90号", [], {"address"}),
        ("地址写错了 能改吗", [], {"wrong_entry"}),  # no address given; that something was entered wrong, yes
        ("退货单号在哪里填", [], set()),
        ("运费险才赔6块", [], {"payout"}),
        ("运费险的钱呢 我没收到", [], set()),
        ("我在北京 几天能到", [], set()),
        ("不知道3号能不能到 住市区2号线附近", [], set()),
        # Said they cannot give it: never to be asked for again either.
        ("当时的截图早删了 你们后台自己查", [], {"photo"}),
        ("东西已经扔了 拍不了照片", [], {"photo"}),
        ("聊天记录找不到了", [], {"photo"}),
        ("截图要怎么截", [], set()),  # asks how: not refused
        ("手机摄像头坏了拍不了 能直接给我换吗", [], {"photo"}),  # a rater's round: the reply asked for a photo again
        # the platform a merchant sells on (a rater's round: after "拼多多", the dropship reply asked for the platform)
        ("拼多多 图片能直接用吗 有没有数据包", [], {"platform"}),
        ("主要做抖音 偶尔发小红书", [], {"platform"}),
        # what is wrong with the thing, told (a rater's round: after "鞋子穿了两天就开胶了" the reply asked what the
        # problem was); a worry before buying, a broken camera or being angry tells no problem of the thing
        ("鞋子穿了两天就开胶了", [], {"problem"}),
        ("我手机摄像头坏了拍不了照 能不能直接给我换", ["鞋子穿了两天就开胶了"], {"photo", "problem"}),
        ("台灯插上电没反应", [], {"problem"}),
        ("袖口脫線了", [], {"problem"}),
        ("这个会不会起球", [], set()),
        ("洗了会掉色吗", [], set()),
        ("气坏了 等了一个星期", [], set()),
        # a fit that is wrong is what is wrong too (a rater's round: after "毛衣小了 想换大一码" a reply asked "您说说
        # 是哪里偏大或者偏小"); asked before buying, none
        ("毛衣小了 想换大一码", [], {"problem"}),
        ("裤子穿上扣不上", [], {"problem"}),
        ("M会不会小啊", [], set()),
        # an appliance's fault (a round of our own conversations: after "破壁机用了20天 突然不转了 有焦味" the first reply
        # asked "方便说说是哪里不太满意吗"); a worry before buying tells none
        ("破壁机用了20天 突然不转了 有焦味", [], {"problem"}),
        ("冰箱到了一天 一直不制冷", [], {"problem"}),
        ("音箱有杂音 音量一大就滋滋响", [], {"problem"}),
        ("会不会不制冷啊 夏天放阳台", [], set()),
        ("这款偏大吗", [], set()),
        # "有点大" without 了 (a rated conversation: after "羽绒服收到了 感觉有点大 可以退吗" the reply asked the return's
        # reason again); a worry or a question is none
        ("羽绒服收到了 感觉有点大 可以退吗", [], {"problem"}),
        ("裤腰有点小 穿着勒", [], {"problem"}),
        ("会不会有点大啊", [], set()),
        ("是不是有点小", [], set()),
        ("M有点大吗", [], set()),
        # "拍了 … 发你了" after a photo was asked for: a photo sent (a rater's round read it as an order placed)
        ("拍了 刚发你了 你看下", [], {"photo"}),
        ("拍了 还没付款", [], set()),
        # the wrong thing sent is what is wrong (two dev conversations: after "我买的是麻辣味 怎么给我发了个五香的" and
        # "收到的顏色不對 我買的是黑色", the first reply asked "您这单是商品有质量问题，还是不喜欢…"); asked before, none
        ("我买的是麻辣味 怎么给我发了个五香的", [], {"problem"}),
        ("收到的顏色不對 我買的是黑色 這件是深藍", [], {"problem"}),
        ("你们发错货了", [], {"problem"}),
        ("一只39一只40 码都配错了", [], {"problem"}),
        ("会不会发错颜色啊", [], set()),
        ("千万别发错了 送人的", [], set()),
        ("会不会给我发错啊", [], set()),
        ("颜色不对的话能换吗", [], set()),
        ("发错了吗", [], set()),
        ("手机号码不对 我重新发你", [], set()),
        ("取件码不对 柜子打不开", [], set()),
        ("客服给我发了个链接", [], set()),
    ],
)
def test_what_the_customer_gave_that_is_no_slot(message, earlier, gave):
    """A phone, a photo, a tax id: never reused in a reply (personal, or no text), but never to be asked again."""
    assert customer_gave(normalize(message), [normalize(t) for t in earlier]) == gave


@pytest.mark.parametrize(
    "message, earlier, cannot",
    [
        ("当时的截图早删了 你们后台自己查", [], {"photo"}),
        ("你们自己翻记录 我哪截得到", [], {"photo"}),
        ("好", ["东西已经扔了 拍不了照片"], {"photo"}),
        ("[图片]截图发你了", [], set()),  # sent, not refused
        ("截图要怎么截", [], set()),
        # (a review) 拍 is also placing an order; records of an order are no picture; a picture sent later wins
        ("主播说的直播专享价 我这里拍不到", [], set()),
        ("怎么拍不了 一直付款失败", [], set()),
        ("订单记录找不到了", [], set()),
        ("[图片] 找到了 发你了", ["当时的截图删了"], set()),
        ("聊天记录找不到了", [], {"photo"}),
    ],
)
def test_what_the_customer_says_they_cannot_give(message, earlier, cannot):
    assert customer_cannot_give(normalize(message), [normalize(t) for t in earlier]) == cannot


@pytest.mark.parametrize(
    "message, earlier, size",
    [
        ("牛仔裤26码腰围多少", [], "26码"),
        ("27呢", ["牛仔裤26码腰围多少"], "27码"),  # a rater's follow-up: read as 26码's question about 27
        ("那39呢", [("customer", "脚长多少穿38"), ("agent", "亲，38码对应脚长24cm哦~")], "39码"),
        ("那l的呢？", [("customer", "M码胸围多少")], "L"),
        ("XL呢", [("agent", "亲，M码适合身高160-165cm")], "XL"),
        ("28码呢", [], "28码"),
        ("27呢", [], None),  # no size talked of: 27 could be anything
        ("27呢", ["我今年27了"], None),
        ("在呢", ["M码胸围多少"], None),
        ("好的呢", ["M码胸围多少"], None),
        ("27的腰围是多少呢", ["26码腰围多少"], None),  # more than a size: the message's own words
    ],
)
def test_a_follow_up_naming_only_a_size_names_that_size(message, earlier, size):
    """A rater's round: "27呢" after "牛仔裤26码腰围多少" was read by its own words; a bare number is a size once
    the conversation talks of sizes."""
    assert asked_size(normalize(message), [(t if isinstance(t, tuple) else ("customer", t)) for t in earlier]) == size
    if size:
        assert conversation_slots(normalize(message), earlier)["size"] == size
