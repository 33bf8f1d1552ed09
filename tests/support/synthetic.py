"""Seeded streams of contract events for the crash test, the rebuild test and the benchmark,
and `expected()`: what every read model must hold for such a stream, computed by plain loops
independently of the projector (the oracle the tests compare the tables with).

The stream looks like production: purchases created then confirmed or declined (some timed-out
ones paid late, then refunded), some clawed back; gifts on live streams (some in combos) and on
videos; items listed and unlocked; diamonds credited per gift/unlock (part held, later
released); payouts requested, then completed or failed; ticketed live events scheduled, their
tickets bought, then started (the tickets' coins credited to the creator) or cancelled (every
ticket refunded); multi-guest rooms' shares set and gifts (GiftSent v2) split between their
creators; subscriptions priced, taken, gifted and cancelled, renewed (or failed and then
lapsed) a month later; LIVE goals moved and reached by the gifts on their stream; battles
scored by the gifts to their sides' hosts, then ended; promotion campaigns created (some with
a batch of codes), coupons redeemed for expiring bonus lots that unlocks spend first and the
expiry worker expires, discount codes redeemed on confirmed purchases; partner consents granted
and revoked, partner debits and credits. Rates are the ones the services record
(gifts, unlocks and tickets at the catalog's rates version 1; subscriptions at their config's).
A few events are published twice, as an outbox relay does after a crash.
"""

import random
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from eventkit.codec import encode, new_envelope
from schemas import topics
from schemas.envelope import Envelope
from schemas.events import (
    bonus,
    gifting,
    live_events,
    partners,
    payout,
    promotions,
    recharge,
    rooms,
    subscriptions,
)
from schemas.events.base import Payload
from schemas.money import Money
from services.projections.read_models import READ_MODELS

START = datetime(2026, 3, 1, 22, 0, tzinfo=UTC)  # runs across several UTC days
CHANNELS: tuple[recharge.Channel, ...] = ("web", "in_app")
# The rates the synthetic gifts, unlocks and tickets record (rates version 1), and the
# subscription config's (services/gifting/subscription_config.json).
DIAMONDS_PER_COIN = Decimal("0.5")
BONUS_DIAMONDS_PER_COIN = Decimal("0.25")
PARTNERS = ("shop-1", "game-1")
SUB_SHARE, SUB_DIAMONDS_PER_COIN = Decimal("0.5"), Decimal("1")
SUB_PERIOD, SUB_GRACE = timedelta(days=30), timedelta(days=3)
SUB_TIERS = (("diamond", 24), ("platinum", 12), ("gold", 6), ("silver", 3), ("bronze", 1))
START_EARLY = timedelta(minutes=15)  # a live event may start this long before its time


def entitlement(months: int) -> subscriptions.Entitlement:
    """The badge tier `months` paid months give, as the subscription config says."""
    tier = next((t for t, m in SUB_TIERS if months >= m), "none")
    return subscriptions.Entitlement(months=months, tier=tier)  # type: ignore[arg-type]


def floor_rate(coins: int, rate: Decimal) -> int:
    """floor(coins x rate), as payout and SubscriptionCharge compute it."""
    numerator, denominator = rate.as_integer_ratio()
    return coins * numerator // denominator


@dataclass
class LiveEvent:
    live_event_id: str
    creator_id: str
    coins: int
    capacity: int
    starts_at: datetime
    tickets: dict[str, str]  # fan -> ticket id


@dataclass
class Subscription:
    subscription_id: str
    fan_id: str
    creator_id: str
    coins: int
    prior_months: int
    period_end: datetime
    auto_renew: bool  # False once cancelled; a gifted one never renews
    gifted: bool = False


@dataclass
class Goal:
    goal_id: str
    creator_id: str
    stream_id: str
    metric: str
    gift_code: str | None
    target: int
    deadline: datetime
    progress: int = 0


@dataclass
class Battle:
    battle_id: str
    hosts: list[str]  # by side
    ends_at: datetime
    scores: list[int]


@dataclass(frozen=True)
class Published:
    topic: str
    envelope: Envelope

    @property
    def key(self) -> bytes:
        return self.envelope.aggregateid.encode()

    def value(self) -> bytes:
        return encode(self.envelope)


class Stream:
    def __init__(
        self, seed: int, users: int = 40, creators: int = 8, streams: int = 4, items: int = 6
    ):
        self.rng = random.Random(seed)
        self.time = START
        self.users = [f"fan-{seed}-{i}" for i in range(users)]
        self.creators = [f"creator-{seed}-{i}" for i in range(creators)]
        self.streams = [f"stream-{seed}-{i}" for i in range(streams)]
        self.items = [f"item-{seed}-{i}" for i in range(items)]
        self.out: list[Published] = []
        self.confirmed: list[recharge.CoinPurchased] = []
        self.listed: dict[str, tuple[str, int, int]] = {}  # item -> owner, coins, version
        self.versions: dict[str, int] = defaultdict(int)
        self.available: dict[str, int] = defaultdict(int)
        self.open_payouts: list[payout.PayoutRequested] = []
        self.live_events: dict[str, LiveEvent] = {}  # on sale
        self.sub_prices: dict[str, tuple[int, int]] = {}  # creator -> coins, price version
        self.subscriptions: dict[tuple[str, str], Subscription] = {}  # (fan, creator): live
        self.months: dict[tuple[str, str], int] = defaultdict(int)  # paid, ended subscriptions
        self.goals: list[Goal] = []  # open (not reached, before the deadline)
        self.battles: list[Battle] = []  # open
        self.rooms: dict[str, tuple[tuple[gifting.Recipient, ...], int]] = {}  # shares, version
        self.campaigns: list[tuple[str, int | None, int | None]] = []  # id, bonus, discount bp
        self.lots: dict[str, list[list[Any]]] = defaultdict(list)  # [lot, campaign, left, expires]
        self.consents: dict[str, tuple[str, str]] = {}  # user -> live consent id, partner

    def uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def tick(self) -> datetime:
        self.time += timedelta(seconds=self.rng.randint(1, 90))
        return self.time

    def emit(self, topic: str, aggregate: str, payload: Payload, now: bool = False) -> Envelope:
        """The payload as the next event of `aggregate`, a little later (`now`: at the time
        the caller's tick() already set, for payloads that name their own time)."""
        if not now:
            self.tick()
        self.versions[aggregate] += 1
        env = new_envelope(
            f"/synthetic/{topic}",
            payload,
            aggregate_id=aggregate,
            aggregate_version=self.versions[aggregate],
            event_id=uuid.UUID(self.uid()),
        ).model_copy(update={"time": self.time})
        self.out.append(Published(topic, env))
        return env

    def purchase(self) -> None:
        user, pid = self.rng.choice(self.users), self.uid()
        coins = self.rng.choice([70, 350, 700, 1400, 3500])
        country, currency = self.rng.choice([("US", "USD"), ("GB", "GBP"), ("DE", "EUR")])
        channel = self.rng.choice(CHANNELS)
        price = Money(amount_minor=coins * 13 // 10, currency=currency)
        agg = f"purchase-{pid}"
        self.emit(
            topics.RECHARGE_EVENTS,
            agg,
            recharge.PurchaseCreated(
                purchase_id=pid,
                user_id=user,
                bundle_id=f"coins_{coins}",
                coins=coins,
                country=country,
                channel=channel,
                price=price,
                catalog_version=1,
                provider="sandbox",
            ),
        )
        if self.rng.random() < 0.15:
            reason = self.rng.choice(["declined", "timeout"])
            self.emit(
                topics.RECHARGE_EVENTS,
                agg,
                recharge.PurchaseFailed(
                    purchase_id=pid,
                    user_id=user,
                    bundle_id=f"coins_{coins}",
                    reason=reason,
                    provider="sandbox",
                ),
            )
            if reason == "timeout" and self.rng.random() < 0.5:  # paid late: refunded
                txn = self.uid()
                self.emit(
                    topics.RECHARGE_EVENTS,
                    agg,
                    recharge.PaymentRefundDue(
                        purchase_id=pid,
                        user_id=user,
                        provider="sandbox",
                        provider_txn_id=txn,
                        amount=price,
                    ),
                )
                if self.rng.random() < 0.8:
                    self.emit(
                        topics.RECHARGE_EVENTS,
                        agg,
                        recharge.PaymentRefunded(
                            purchase_id=pid,
                            user_id=user,
                            provider="sandbox",
                            provider_txn_id=txn,
                            refund_id=f"rf-{txn}",
                            amount=price,
                        ),
                    )
            return
        fx = Decimal(self.rng.choice(["1", "1.27", "1.08"]))
        settlement = int(price.amount_minor * fx)
        bought = recharge.CoinPurchased(
            purchase_id=pid,
            user_id=user,
            bundle_id=f"coins_{coins}",
            coins=coins,
            country=country,
            channel=channel,
            price=price,
            settlement=Money(amount_minor=settlement, currency="USD"),
            fee=Money(amount_minor=settlement * 3 // 100, currency="USD"),
            fx_rate=fx,
            catalog_version=1,
            rates_version=1,
            provider="sandbox",
            provider_txn_id=self.uid(),
        )
        self.emit(topics.RECHARGE_EVENTS, agg, bought)
        self.confirmed.append(bought)

    def clawback(self) -> None:
        if not self.confirmed:
            return
        p = self.confirmed.pop(self.rng.randrange(len(self.confirmed)))
        self.emit(
            topics.RECHARGE_EVENTS,
            f"purchase-{p.purchase_id}",
            recharge.CoinsClawedBack(
                purchase_id=p.purchase_id,
                user_id=p.user_id,
                coins=p.coins,
                reason_code=self.rng.choice(["chargeback", "friendly_fraud"]),
                provider=p.provider,
                provider_txn_id=p.provider_txn_id,
                settlement=p.settlement,
            ),
        )

    def gift(self) -> None:
        sender, creator = self.rng.choice(self.users), self.rng.choice(self.creators)
        live = self.rng.random() < 0.8
        context = gifting.GiftContext(
            kind="live" if live else "video",
            id=self.rng.choice(self.streams) if live else self.uid(),
        )
        code, price = self.rng.choice([("rose", 1), ("galaxy", 1000), ("lion", 29999)])
        combo = self.uid() if live and self.rng.random() < 0.3 else None
        for count in range(1, (self.rng.randint(2, 5) if combo else 1) + 1):
            quantity = self.rng.randint(1, 3)
            rate = DIAMONDS_PER_COIN
            gift_id = self.uid()
            env = self.emit(
                topics.GIFTING_EVENTS,
                f"wallet-{sender}",
                gifting.GiftSent(
                    gift_id=gift_id,
                    sender_id=sender,
                    creator_id=creator,
                    context=context,
                    gift_code=code,
                    quantity=quantity,
                    unit_price=price,
                    coins=quantity * price,
                    diamonds_per_coin=rate,
                    commission_rate=Decimal("0.5"),
                    rates_version=1,
                    catalog_version=1,
                    combo_id=combo,
                    combo_count=count,
                    balance_after=0,
                ),
            )
            if live:
                self.tally(gift_id, context.id, creator, code, quantity, quantity * price)
            self.credit(creator, env, quantity * price, rate, context.id if live else None, gift_id)

    def list_item(self) -> None:
        item = self.rng.choice(self.items)
        owner = self.listed.get(item, (self.rng.choice(self.creators + ["platform"]), 0, 0))[0]
        version = self.listed.get(item, ("", 0, 0))[2] + 1
        coins = self.rng.choice([50, 100, 250])
        self.listed[item] = (owner, coins, version)
        self.emit(
            topics.GIFTING_EVENTS,
            f"item-{item}",
            gifting.ItemListed(
                item_id=item,
                owner_id=owner,
                title=f"{item} v{version}",
                coins=coins,
                item_version=version,
            ),
        )

    def unlock(self) -> None:
        if not self.listed:
            return self.list_item()
        item = self.rng.choice(sorted(self.listed))
        owner, coins, _ = self.listed[item]
        user, unlock_id = self.rng.choice(self.users), self.uid()
        draws = self.draw(user, coins)
        bonus_coins = sum(d.coins for d in draws)
        unlocked = gifting.ContentUnlocked(
            unlock_id=unlock_id,
            user_id=user,
            item_id=item,
            owner_id=owner,
            coins=coins,
            diamonds_per_coin=DIAMONDS_PER_COIN,
            commission_rate=Decimal("0.3"),
            rates_version=1,
            catalog_version=1,
            balance_after=0,
            bonus_coins=bonus_coins,
            bonus_diamonds_per_coin=BONUS_DIAMONDS_PER_COIN if bonus_coins else None,
            bonus_lots=draws,
        )
        env = self.emit(topics.GIFTING_EVENTS, f"wallet-{user}", unlocked)
        if owner != "platform":
            self.credit(
                owner, env, coins, DIAMONDS_PER_COIN, None, unlock_id, diamonds=unlocked.earned()
            )

    def draw(self, user: str, coins: int) -> tuple[gifting.LotDraw, ...]:
        """The bonus part of a spend: the user's open lots first, soonest to expire first."""
        draws: list[gifting.LotDraw] = []
        for lot in sorted(self.lots[user], key=lambda lot: (lot[3], lot[0])):
            take = min(lot[2], coins - sum(d.coins for d in draws))
            if take > 0 and lot[3] > self.time:
                lot[2] -= take
                draws.append(gifting.LotDraw(lot_id=lot[0], coins=take))
        return tuple(draws)

    def create_campaign(self) -> None:
        """A coupon campaign (expiring bonus coins) or a purchase code's discount."""
        campaign_id, bonus_coins = self.uid(), self.rng.choice([None, 50, 200])
        discount_bp = None if bonus_coins else self.rng.choice([500, 1000])
        stream = f"campaign-{campaign_id}"
        created = promotions.CampaignCreated(
            campaign_id=campaign_id,
            name=f"campaign {len(self.campaigns)}",
            kind="coupon" if bonus_coins else "promo_code",
            starts_at=self.time,
            ends_at=self.time + timedelta(days=30),
            countries=self.rng.choice([None, ("US", "GB")]),
            max_redemptions=1000,
            per_user_limit=5,
            bonus_coins=bonus_coins,
            discount_bp=discount_bp,
            bonus_expires_after_days=1 if bonus_coins else None,
            created_by="ops-1",
        )
        self.emit(topics.RECHARGE_EVENTS, stream, created)
        if self.rng.random() < 0.5:
            batch = promotions.PromoCodesIssued(
                campaign_id=campaign_id,
                batch_id=self.uid(),
                count=self.rng.randint(1, 100),
                issued_by="ops-1",
            )
            self.emit(topics.RECHARGE_EVENTS, stream, batch)
        self.campaigns.append((campaign_id, bonus_coins, discount_bp))

    def redeem(self) -> None:
        """A coupon's bonus lot (PromoRedeemed, then BonusCoinsGranted), or a discount code's
        redemption on a confirmed purchase."""
        if not self.campaigns:
            return self.create_campaign()
        campaign_id, bonus_coins, discount_bp = self.rng.choice(self.campaigns)
        if bonus_coins:
            user, grant_id = self.rng.choice(self.users), self.uid()
            expires_at = self.time + timedelta(hours=self.rng.randint(1, 12))
            redeemed = promotions.PromoRedeemed(
                redemption_id=self.uid(),
                campaign_id=campaign_id,
                user_id=user,
                country="US",
                source="coupon",
                single_use=self.rng.random() < 0.5,
                grant_id=grant_id,
                bonus_coins=bonus_coins,
            )
            self.emit(topics.RECHARGE_EVENTS, f"promo-{user}", redeemed)
            granted = promotions.BonusCoinsGranted(
                grant_id=grant_id,
                user_id=user,
                coins=bonus_coins,
                campaign_id=campaign_id,
                source="coupon",
                expires_at=expires_at,
            )
            self.emit(topics.RECHARGE_EVENTS, f"promo-{user}", granted)
            self.lots[user].append([grant_id, campaign_id, bonus_coins, expires_at])
            return None
        if not self.confirmed:
            return self.purchase()
        bought = self.rng.choice(self.confirmed)
        assert discount_bp is not None
        off = bought.price.amount_minor * discount_bp // 10_000
        cost = bought.settlement.amount_minor * discount_bp // 10_000
        redeemed = promotions.PromoRedeemed(
            redemption_id=self.uid(),
            campaign_id=campaign_id,
            user_id=bought.user_id,
            country=bought.country,
            source="promo_code",
            single_use=False,
            purchase_id=bought.purchase_id,
            bonus_coins=0,
            discount=Money(amount_minor=off, currency=bought.price.currency),
            discount_settlement=Money(amount_minor=cost, currency=bought.settlement.currency),
        )
        self.emit(topics.RECHARGE_EVENTS, f"promo-{bought.user_id}", redeemed)
        return None

    def expire_lots(self) -> None:
        """The expiry worker: what is left of each lot past its expires_at."""
        for user, lots in sorted(self.lots.items()):
            for lot in lots:
                lot_id, campaign_id, left, expires_at = lot
                if left and expires_at <= self.time:
                    expired = bonus.BonusCoinsExpired(
                        lot_id=lot_id,
                        user_id=user,
                        campaign_id=campaign_id,
                        coins=left,
                        expires_at=expires_at,
                        expired_at=self.time,
                        balance_after=0,
                    )
                    self.emit(topics.GIFTING_EVENTS, f"wallet-{user}", expired)
                    lot[2] = 0

    def partner_operation(self) -> None:
        """A user consents to a partner; with a live consent, the partner debits or credits
        coins, or the user revokes it."""
        user = self.rng.choice(self.users)
        if user not in self.consents:
            consent_id, partner = self.uid(), self.rng.choice(PARTNERS)
            granted = partners.PartnerConsentGranted(
                consent_id=consent_id,
                user_id=user,
                partner_id=partner,
                scopes=("coins:debit", "coins:credit"),
            )
            self.emit(topics.GIFTING_EVENTS, f"consent-{consent_id}", granted)
            self.consents[user] = (consent_id, partner)
            return
        consent_id, partner = self.consents[user]
        roll = self.rng.random()
        if roll < 0.1:
            revoked = partners.PartnerConsentRevoked(
                consent_id=consent_id, user_id=user, partner_id=partner
            )
            self.emit(topics.GIFTING_EVENTS, f"consent-{consent_id}", revoked)
            del self.consents[user]
        elif roll < 0.6:
            debited = partners.PartnerCoinsDebited(
                operation_id=self.uid(),
                partner_id=partner,
                user_id=user,
                consent_id=consent_id,
                item_id="sword-of-dawn",
                title="Sword of Dawn",
                coins=self.rng.choice([10, 50, 120]),
                balance_after=0,
                revenue_share_bp=7000,
                diamonds_per_coin=DIAMONDS_PER_COIN,
                rates_version=1,
            )
            self.emit(topics.GIFTING_EVENTS, f"wallet-{user}", debited)
        else:
            credited = partners.PartnerCoinsCredited(
                operation_id=self.uid(),
                partner_id=partner,
                user_id=user,
                consent_id=consent_id,
                reference=self.uid(),
                reason="Daily quest",
                coins=self.rng.choice([5, 15]),
                balance_after=0,
            )
            self.emit(topics.GIFTING_EVENTS, f"wallet-{user}", credited)

    def credit(
        self,
        creator: str,
        cause: Envelope,
        coins: int,
        rate: Decimal,
        stream: str | None,
        source_id: str,
        diamonds: int | None = None,
    ) -> None:
        """Payout's DiamondsCredited for `cause` (its creator's part: `coins`, earning
        floor(coins x rate) diamonds unless `diamonds` says), a tenth held for a week."""
        diamonds = floor_rate(coins, rate) if diamonds is None else diamonds
        held = diamonds // 10
        self.available[creator] += diamonds - held
        self.emit(
            topics.PAYOUT_EVENTS,
            f"creator-{creator}",
            payout.DiamondsCredited(
                creator_id=creator,
                gift_event_id=str(cause.id),
                gift_id=source_id,
                stream_id=stream,
                coins=coins,
                diamonds_per_coin=rate,
                reserve_percent=Decimal(10),
                diamonds=diamonds,
                held=held,
                release_at=cause.time + timedelta(days=7) if held else None,
                earned_after=0,
            ),
        )
        if held and self.rng.random() < 0.5:
            self.available[creator] += held
            self.emit(
                topics.PAYOUT_EVENTS,
                f"creator-{creator}",
                payout.DiamondsReleased(creator_id=creator, diamonds=held, held_after=0),
            )

    def request_payout(self) -> None:
        creator = max(self.creators, key=lambda c: (self.available[c], c))
        diamonds = self.available[creator] // 2
        if diamonds <= 0:
            return
        self.available[creator] -= diamonds
        request = payout.PayoutRequested(
            payout_id=self.uid(),
            creator_id=creator,
            diamonds=diamonds,
            amount=Money(amount_minor=diamonds // 2, currency="USD"),
            usd_per_diamond=Decimal("0.005"),
            fx_rate=Decimal("1"),
            rates_version=1,
            method="bank",
            available_after=self.available[creator],
        )
        self.emit(topics.PAYOUT_EVENTS, f"creator-{creator}", request)
        self.open_payouts.append(request)

    def settle_payout(self) -> None:
        if not self.open_payouts:
            return
        r = self.open_payouts.pop(0)
        agg = f"creator-{r.creator_id}"
        self.emit(
            topics.PAYOUT_EVENTS,
            agg,
            payout.PayoutSubmitted(
                payout_id=r.payout_id,
                creator_id=r.creator_id,
                provider="sandbox",
                provider_ref=self.uid(),
            ),
        )
        if self.rng.random() < 0.8:
            self.emit(
                topics.PAYOUT_EVENTS,
                agg,
                payout.PayoutCompleted(
                    payout_id=r.payout_id,
                    creator_id=r.creator_id,
                    diamonds=r.diamonds,
                    amount=r.amount,
                ),
            )
        else:
            self.available[r.creator_id] += r.diamonds
            self.emit(
                topics.PAYOUT_EVENTS,
                agg,
                payout.PayoutFailed(
                    payout_id=r.payout_id,
                    creator_id=r.creator_id,
                    diamonds=r.diamonds,
                    reason="provider_failure",
                ),
            )

    # -- multi-guest rooms: a room's shares, then gifts to it split between its creators --

    def set_room_shares(self) -> None:
        host, *guests = self.rng.sample(self.creators, self.rng.randint(2, 3))
        room_id, version = f"room-{host}", self.rooms.get(f"room-{host}", ((), 0))[1] + 1
        guest_bp = self.rng.choice([1500, 2500])
        recipients = (
            gifting.Recipient(creator_id=host, share_bp=gifting.WHOLE_BP - guest_bp * len(guests)),
            *(gifting.Recipient(creator_id=g, share_bp=guest_bp) for g in guests),
        )
        self.rooms[room_id] = (recipients, version)
        self.emit(
            topics.GIFTING_EVENTS,
            f"room-{room_id}",
            rooms.RoomSharesSet(
                room_id=room_id, host_id=host, room_version=version, recipients=recipients
            ),
        )

    def room_gift(self) -> None:
        """A GiftSent v2 as gifting records it now (every gift its own combo id), to a room's
        recipients at the shares in force; payout credits each share (GiftSentV2.split)."""
        if not self.rooms:
            return self.set_room_shares()
        recipients, _ = self.rooms[self.rng.choice(sorted(self.rooms))]
        sender, stream = self.rng.choice(self.users), self.rng.choice(self.streams)
        code, price = self.rng.choice([("rose", 1), ("finger_heart", 5), ("galaxy", 1000)])
        quantity, gift_id = self.rng.randint(1, 3), self.uid()
        gift = gifting.GiftSentV2(
            gift_id=gift_id,
            sender_id=sender,
            recipients=recipients,
            context=gifting.GiftContext(kind="live", id=stream),
            gift_code=code,
            quantity=quantity,
            unit_price=price,
            coins=quantity * price,
            diamonds_per_coin=DIAMONDS_PER_COIN,
            commission_rate=Decimal("0.5"),
            rates_version=1,
            catalog_version=1,
            combo_id=self.uid(),
            combo_count=1,
            balance_after=0,
        )
        env = self.emit(topics.GIFTING_EVENTS, f"wallet-{sender}", gift)
        self.tally(gift_id, stream, gift.host, code, quantity, gift.coins)
        for share in gift.split():
            self.credit(
                share.creator_id,
                env,
                share.coins,
                DIAMONDS_PER_COIN,
                stream,
                gift_id,
                share.diamonds,
            )

    # -- LIVE goals and battles, moved by the gifts of their stream / hosts (gifting's tally) --

    def set_goal(self) -> None:
        creator, stream = self.rng.choice(self.creators), self.rng.choice(self.streams)
        metric = self.rng.choice(["coins", "gifts"])
        self.tick()
        goal = Goal(
            goal_id=self.uid(),
            creator_id=creator,
            stream_id=stream,
            metric=metric,
            gift_code="rose" if metric == "gifts" else None,
            target=self.rng.choice([2000, 30000, 90000]) if metric == "coins" else 5,
            deadline=self.time + timedelta(hours=self.rng.randint(1, 6)),
        )
        self.emit(
            topics.GIFTING_EVENTS,
            f"goal-{goal.goal_id}",
            rooms.GoalSet(
                goal_id=goal.goal_id,
                creator_id=creator,
                stream_id=stream,
                metric=goal.metric,  # type: ignore[arg-type]
                gift_code=goal.gift_code,
                target=goal.target,
                deadline=goal.deadline,
            ),
            now=True,
        )
        self.goals.append(goal)

    def start_battle(self) -> None:
        busy = {h for b in self.battles for h in b.hosts}
        free = [c for c in self.creators if c not in busy]
        if len(free) < 2:
            return
        hosts = self.rng.sample(free, 2)
        started = self.tick()
        ends = started + timedelta(minutes=self.rng.choice([10, 20, 30]))
        battle = Battle(self.uid(), hosts, ends, [0, 0])
        self.emit(
            topics.GIFTING_EVENTS,
            f"battle-{battle.battle_id}",
            rooms.BattleStarted(
                battle_id=battle.battle_id,
                started_by=hosts[0],
                sides=tuple(rooms.BattleSide(side=i, host_id=h) for i, h in enumerate(hosts)),
                started_at=started,
                ends_at=ends,
            ),
            now=True,
        )
        self.battles.append(battle)

    def tally(
        self, gift_id: str, stream: str, host: str, code: str, quantity: int, coins: int
    ) -> None:
        """What a live gift's commit does to the goals of its stream and its host's battle
        side: a running total each (GoalProgressed, BattleScored), GoalReached once."""
        self.goals = [g for g in self.goals if self.time < g.deadline]
        for g in self.goals:
            add = coins if g.metric == "coins" else (quantity if code == g.gift_code else 0)
            if g.stream_id != stream or not add:
                continue
            before, g.progress = g.progress, g.progress + add
            fields = dict(goal_id=g.goal_id, creator_id=g.creator_id, stream_id=stream)
            agg = f"goal-{g.goal_id}"
            self.emit(
                topics.GIFTING_EVENTS,
                agg,
                rooms.GoalProgressed(**fields, progress=g.progress, target=g.target),
            )
            if before < g.target <= g.progress:
                self.emit(
                    topics.GIFTING_EVENTS,
                    agg,
                    rooms.GoalReached(
                        **fields, target=g.target, progress=g.progress, gift_id=gift_id
                    ),
                )
        self.goals = [g for g in self.goals if g.progress < g.target]
        for b in self.battles:
            if host in b.hosts and self.time < b.ends_at:
                side = b.hosts.index(host)
                b.scores[side] += coins
                self.emit(
                    topics.GIFTING_EVENTS,
                    f"battle-{b.battle_id}-{side}",
                    rooms.BattleScored(
                        battle_id=b.battle_id, side=side, host_id=host, score=b.scores[side]
                    ),
                )

    def end_battles(self, every: bool = False) -> None:
        """Battles past their end (all of them at the history's end) record their final
        scores, as gifting's worker does at ends_at."""
        for b in [b for b in self.battles if every or b.ends_at <= self.time]:
            self.time = max(self.time, b.ends_at)
            top = max(b.scores)
            self.emit(
                topics.GIFTING_EVENTS,
                f"battle-{b.battle_id}",
                rooms.BattleEnded(
                    battle_id=b.battle_id,
                    scores=tuple(
                        rooms.SideScore(side=i, host_id=h, score=b.scores[i])
                        for i, h in enumerate(b.hosts)
                    ),
                    winner_side=b.scores.index(top) if b.scores.count(top) == 1 else None,
                    ended_at=b.ends_at,
                ),
            )
            self.battles.remove(b)

    # -- ticketed live events --

    def schedule_live_event(self) -> None:
        self.tick()
        event = LiveEvent(
            live_event_id=self.uid(),
            creator_id=self.rng.choice(self.creators),
            coins=self.rng.choice([100, 500, 1000]),
            capacity=self.rng.randint(3, 8),
            starts_at=self.time + timedelta(hours=self.rng.randint(1, 4)),
            tickets={},
        )
        self.emit(
            topics.GIFTING_EVENTS,
            f"live-event-{event.live_event_id}",
            live_events.LiveEventScheduled(
                live_event_id=event.live_event_id,
                creator_id=event.creator_id,
                title=f"Fans-only set {event.live_event_id[:8]}",
                coins=event.coins,
                capacity=event.capacity,
                starts_at=event.starts_at,
                diamonds_per_coin=DIAMONDS_PER_COIN,
                commission_rate=Decimal("0.5"),
                rates_version=1,
            ),
            now=True,
        )
        self.live_events[event.live_event_id] = event

    def buy_ticket(self) -> None:
        fan = self.rng.choice(self.users)
        open_ = [
            e
            for e in self.live_events.values()
            if len(e.tickets) < e.capacity and fan not in e.tickets
        ]
        if not open_:
            return self.schedule_live_event()
        event = self.rng.choice(open_)
        event.tickets[fan] = self.uid()
        self.emit(
            topics.GIFTING_EVENTS,
            f"wallet-{fan}",
            live_events.TicketPurchased(
                ticket_id=event.tickets[fan],
                live_event_id=event.live_event_id,
                fan_id=fan,
                creator_id=event.creator_id,
                coins=event.coins,
                diamonds_per_coin=DIAMONDS_PER_COIN,
                commission_rate=Decimal("0.5"),
                rates_version=1,
                balance_after=0,
                seats_sold=len(event.tickets),
            ),
        )

    def close_live_event(self) -> None:
        """Starts an event that may go live (its tickets' coins credited to the creator at the
        event's rates, by payout), or cancels one (each ticket refunded)."""
        due = [e for e in self.live_events.values() if self.time >= e.starts_at - START_EARLY]
        if due and self.rng.random() < 0.8:
            event = self.rng.choice(due)
            coins = event.coins * len(event.tickets)
            env = self.emit(
                topics.GIFTING_EVENTS,
                f"live-event-{event.live_event_id}",
                live_events.LiveEventStarted(
                    live_event_id=event.live_event_id,
                    creator_id=event.creator_id,
                    tickets_settled=len(event.tickets),
                    coins=coins,
                    diamonds_per_coin=DIAMONDS_PER_COIN,
                    commission_rate=Decimal("0.5"),
                    rates_version=1,
                ),
            )
            if coins:
                self.credit(
                    event.creator_id, env, coins, DIAMONDS_PER_COIN, None, event.live_event_id
                )
        elif self.live_events and self.rng.random() < 0.5:
            event = self.live_events[self.rng.choice(sorted(self.live_events))]
            for fan in sorted(event.tickets):
                self.emit(
                    topics.GIFTING_EVENTS,
                    f"wallet-{fan}",
                    live_events.TicketRefunded(
                        ticket_id=event.tickets[fan],
                        live_event_id=event.live_event_id,
                        fan_id=fan,
                        coins=event.coins,
                        balance_after=0,
                    ),
                )
            self.emit(
                topics.GIFTING_EVENTS,
                f"live-event-{event.live_event_id}",
                live_events.LiveEventCancelled(
                    live_event_id=event.live_event_id,
                    creator_id=event.creator_id,
                    tickets_refunded=len(event.tickets),
                    coins_refunded=event.coins * len(event.tickets),
                ),
            )
        else:
            return
        del self.live_events[event.live_event_id]

    # -- subscriptions --

    def set_subscription_price(self) -> None:
        creator = self.rng.choice(self.creators)
        version = self.sub_prices.get(creator, (0, 0))[1] + 1
        coins = self.rng.choice([100, 300, 500])
        self.sub_prices[creator] = (coins, version)
        self.emit(
            topics.GIFTING_EVENTS,
            f"subscription-price-{creator}",
            subscriptions.SubscriptionPriceSet(
                creator_id=creator, coins=coins, price_version=version, config_version=1
            ),
        )

    def charge(self, coins: int, payer: str, creator: str) -> dict[str, Any]:
        """What every subscription charge records: the wallet, the coins, the rates."""
        return dict(
            payer_id=payer,
            creator_id=creator,
            coins=coins,
            creator_share=SUB_SHARE,
            diamonds_per_coin=SUB_DIAMONDS_PER_COIN,
            rates_version=1,
            balance_after=0,
        )

    def credit_charge(self, env: Envelope, p: subscriptions.SubscriptionCharge, source: str):
        """Payout's credit of a charge: the creator's share at the recorded rates."""
        if p.creator_coins:
            stream = getattr(p, "stream_id", None)
            self.credit(
                p.creator_id,
                env,
                p.creator_coins,
                p.diamonds_per_coin,
                stream,
                source,
                p.creator_diamonds,
            )

    def subscribe(self) -> None:
        if not self.sub_prices:
            return self.set_subscription_price()
        creator = self.rng.choice(sorted(self.sub_prices))
        fan = self.rng.choice(self.users)
        if (fan, creator) in self.subscriptions:
            return
        coins, version = self.sub_prices[creator]
        now = self.tick()
        sub = Subscription(
            self.uid(), fan, creator, coins, self.months[(fan, creator)], now + SUB_PERIOD, True
        )
        started = subscriptions.SubscriptionStarted(
            **self.charge(coins, fan, creator),
            subscription_id=sub.subscription_id,
            fan_id=fan,
            period=1,
            period_start=now,
            period_end=sub.period_end,
            price_version=version,
            entitlement=entitlement(sub.prior_months + 1),
        )
        env = self.emit(topics.GIFTING_EVENTS, f"wallet-{fan}", started, now=True)
        self.subscriptions[(fan, creator)] = sub
        self.credit_charge(env, started, sub.subscription_id)

    def gift_subscriptions(self) -> None:
        if not self.sub_prices:
            return self.set_subscription_price()
        creator = self.rng.choice(sorted(self.sub_prices))
        payer = self.rng.choice(self.users)
        viewers = sorted(
            v
            for v in self.rng.sample(self.users, 3)
            if v != payer and (v, creator) not in self.subscriptions
        )
        if not viewers:
            return
        unit, version = self.sub_prices[creator]
        gift_id, now = self.uid(), self.tick()
        made = [
            Subscription(
                self.uid(),
                v,
                creator,
                unit,
                self.months[(v, creator)],
                now + SUB_PERIOD,
                False,
                True,
            )
            for v in viewers
        ]
        live = self.rng.random() < 0.7
        gifted = subscriptions.SubscriptionsGifted(
            **self.charge(unit * len(made), payer, creator),
            gift_id=gift_id,
            unit_coins=unit,
            price_version=version,
            stream_id=self.rng.choice(self.streams) if live else None,
            period_start=now,
            period_end=now + SUB_PERIOD,
            recipients=tuple(
                subscriptions.GiftedSubscription(
                    fan_id=s.fan_id,
                    subscription_id=s.subscription_id,
                    entitlement=entitlement(s.prior_months + 1),
                )
                for s in made
            ),
        )
        env = self.emit(topics.GIFTING_EVENTS, f"wallet-{payer}", gifted, now=True)
        for s in made:
            self.subscriptions[(s.fan_id, creator)] = s
        self.credit_charge(env, gifted, gift_id)

    def cancel_subscription(self) -> None:
        renewing = [s for s in self.subscriptions.values() if s.auto_renew]
        if not renewing:
            return
        sub = self.rng.choice(renewing)
        sub.auto_renew = False
        self.emit(
            topics.GIFTING_EVENTS,
            f"subscription-{sub.subscription_id}",
            subscriptions.SubscriptionCancelled(
                subscription_id=sub.subscription_id,
                fan_id=sub.fan_id,
                creator_id=sub.creator_id,
                ends_at=sub.period_end,
            ),
        )

    def lapse(self, sub: Subscription, reason: str, periods: int) -> None:
        self.emit(
            topics.GIFTING_EVENTS,
            f"subscription-{sub.subscription_id}",
            subscriptions.SubscriptionLapsed(
                subscription_id=sub.subscription_id,
                fan_id=sub.fan_id,
                creator_id=sub.creator_id,
                reason=reason,  # type: ignore[arg-type]
                periods=periods,
                entitlement=entitlement(sub.prior_months + periods),
            ),
        )
        del self.subscriptions[(sub.fan_id, sub.creator_id)]
        self.months[(sub.fan_id, sub.creator_id)] = sub.prior_months + periods

    def a_month_later(self) -> None:
        """The renewal worker a period on: gifted and cancelled subscriptions lapse, the others
        renew from their fan's wallet, a few find it short (grace), then lapse at its end."""
        if not self.subscriptions:
            return
        self.time = max(s.period_end for s in self.subscriptions.values())
        short: list[Subscription] = []
        for sub in sorted(self.subscriptions.values(), key=lambda s: s.subscription_id):
            if not sub.auto_renew:
                self.lapse(sub, "not-renewing" if sub.gifted else "cancelled", 1)
            elif self.rng.random() < 0.2:
                grace = sub.period_end + SUB_GRACE
                self.emit(
                    topics.GIFTING_EVENTS,
                    f"subscription-{sub.subscription_id}",
                    subscriptions.SubscriptionRenewalFailed(
                        subscription_id=sub.subscription_id,
                        fan_id=sub.fan_id,
                        creator_id=sub.creator_id,
                        period=2,
                        coins=sub.coins,
                        balance=0,
                        attempt=1,
                        grace_until=grace,
                        next_attempt_at=self.time + timedelta(hours=12),
                    ),
                )
                short.append(sub)
            else:
                renewed = subscriptions.SubscriptionRenewed(
                    **self.charge(sub.coins, sub.fan_id, sub.creator_id),
                    subscription_id=sub.subscription_id,
                    fan_id=sub.fan_id,
                    period=2,
                    period_start=sub.period_end,
                    period_end=sub.period_end + SUB_PERIOD,
                    entitlement=entitlement(sub.prior_months + 2),
                )
                env = self.emit(topics.GIFTING_EVENTS, f"wallet-{sub.fan_id}", renewed)
                sub.period_end = renewed.period_end
                self.credit_charge(env, renewed, sub.subscription_id)
        if short:
            self.time = max(s.period_end for s in short) + SUB_GRACE
            for sub in short:
                self.lapse(sub, "grace-expired", 1)


def generate(count: int, seed: int, duplicates: float = 0.01, **sizes) -> list[Published]:
    """At least `count` messages (the last flow is finished), a `duplicates` share re-sent."""
    s = Stream(seed, **sizes)
    actions = [
        (s.purchase, 30),
        (s.gift, 40),
        (s.unlock, 12),
        (s.list_item, 2),
        (s.clawback, 2),
        (s.request_payout, 3),
        (s.settle_payout, 3),
        (s.set_room_shares, 1),
        (s.room_gift, 5),
        (s.set_goal, 1),
        (s.start_battle, 1),
        (s.schedule_live_event, 1),
        (s.buy_ticket, 4),
        (s.close_live_event, 1),
        (s.set_subscription_price, 1),
        (s.subscribe, 3),
        (s.gift_subscriptions, 1),
        (s.cancel_subscription, 1),
        (s.create_campaign, 1),
        (s.redeem, 4),
        (s.partner_operation, 3),
    ]
    moves, weights = zip(*actions, strict=True)
    while len(s.out) < count:
        s.end_battles()
        s.expire_lots()
        s.rng.choices(moves, weights)[0]()
    s.end_battles(every=True)
    s.a_month_later()
    out = list(s.out)
    for _ in range(int(len(out) * duplicates)):  # a re-send comes after the original
        original = s.rng.randrange(len(out))
        out.insert(s.rng.randint(original + 1, len(out)), out[original])
    return out


# The events that move a wallet: each one a wallet event and a statement line.
WALLET_EVENTS = (
    "CoinPurchased",
    "CoinsClawedBack",
    "GiftSent",
    "ContentUnlocked",
    "TicketPurchased",
    "TicketRefunded",
    "SubscriptionStarted",
    "SubscriptionRenewed",
    "SubscriptionsGifted",
    "BonusCoinsGranted",
    "BonusCoinsExpired",
    "PartnerCoinsDebited",
    "PartnerCoinsCredited",
)
# Of those, the ones that move only a wallet's balance (and its statement): + in, - out.
BALANCE_ONLY = {
    "BonusCoinsGranted": 1,
    "BonusCoinsExpired": -1,
    "PartnerCoinsCredited": 1,
    "PartnerCoinsDebited": -1,
}


def expected(published: list[Published]) -> dict[str, dict]:
    """The figures each read model must show for these messages, each event counted once.
    Keys and tuples match `queries.ORACLE_QUERIES`."""
    seen: set = set()
    unique = []
    for m in published:
        if m.envelope.id not in seen:
            seen.add(m.envelope.id)
            unique.append(m.envelope)
    wallets: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0, 0])
    statements: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0])
    creators: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0, 0, 0])
    per_stream: defaultdict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    per_day: defaultdict[tuple[str, date], list[int]] = defaultdict(lambda: [0, 0, 0])
    gifters: defaultdict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    combos: defaultdict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    items: defaultdict[str, list[Any]] = defaultdict(lambda: [0, 0, None, 0])
    purchases: defaultdict[str, list[Any]] = defaultdict(
        lambda: [False, False, False, 0, None, None]
    )
    commission: defaultdict[tuple[date, str], list[Any]] = defaultdict(lambda: [0, 0, Decimal(0)])
    payouts: defaultdict[str, list[bool]] = defaultdict(lambda: [False, False, False])
    for e in unique:
        d, t = e.data, e.time
        day = t.astimezone(UTC).date()
        if e.type == "CoinPurchased":
            w = wallets[d["user_id"]]
            w[0] += d["coins"]
            w[4] += d["coins"]
            statements[d["user_id"]][1] += d["coins"]
            purchases[d["purchase_id"]][1] = True
        elif e.type == "CoinsClawedBack":
            w = wallets[d["user_id"]]
            w[1] += d["coins"]
            w[4] -= d["coins"]
            statements[d["user_id"]][1] -= d["coins"]
            purchases[d["purchase_id"]][3] += d["coins"]
        elif e.type == "GiftSent":
            w = wallets[d["sender_id"]]
            w[2] += d["coins"]
            w[4] -= d["coins"]
            statements[d["sender_id"]][1] -= d["coins"]
            if d["context"]["kind"] == "live":
                g = gifters[(d["context"]["id"], d["sender_id"])]
                g[0] += 1
                g[1] += d["coins"]
                if d["combo_id"]:
                    c = combos[(d["context"]["id"], d["combo_id"])]
                    c[0] += 1
                    c[1] += d["coins"]
                    c[2] = max(c[2], d["combo_count"])
            cm = commission[(day, "gift")]
            cm[0] += 1
            cm[1] += d["coins"]
            cm[2] += d["coins"] * Decimal(d["commission_rate"])
        elif e.type == "ContentUnlocked":
            w = wallets[d["user_id"]]
            w[3] += d["coins"]
            w[4] -= d["coins"]
            statements[d["user_id"]][1] -= d["coins"]
            items[d["item_id"]][0] += 1
            items[d["item_id"]][1] += d["coins"]
            cm = commission[(day, "unlock")]
            cm[0] += 1
            cm[1] += d["coins"]
            cm[2] += d["coins"] * Decimal(d["commission_rate"])
        elif e.type in ("TicketPurchased", "TicketRefunded"):  # held, then given back
            coins = d["coins"] if e.type == "TicketRefunded" else -d["coins"]
            wallets[d["fan_id"]][4] += coins
            statements[d["fan_id"]][1] += coins
        elif e.type in ("SubscriptionStarted", "SubscriptionRenewed", "SubscriptionsGifted"):
            wallets[d["payer_id"]][4] -= d["coins"]
            statements[d["payer_id"]][1] -= d["coins"]
        elif e.type in BALANCE_ONLY:
            wallets[d["user_id"]][4] += BALANCE_ONLY[e.type] * d["coins"]
            statements[d["user_id"]][1] += BALANCE_ONLY[e.type] * d["coins"]
        elif e.type == "ItemListed":
            i = items[d["item_id"]]
            if d["item_version"] > i[3]:
                i[2], i[3] = d["title"], d["item_version"]
        elif e.type == "PurchaseCreated":
            purchases[d["purchase_id"]][0] = True
        elif e.type == "PurchaseFailed":
            purchases[d["purchase_id"]][2] = True
        elif e.type == "PaymentRefundDue":
            purchases[d["purchase_id"]][4] = d["amount"]["amount_minor"]
        elif e.type == "PaymentRefunded":
            purchases[d["purchase_id"]][4] = d["amount"]["amount_minor"]
            purchases[d["purchase_id"]][5] = d["refund_id"]
        elif e.type == "DiamondsCredited":
            c = creators[d["creator_id"]]
            c[0] += 1
            c[1] += d["coins"]
            c[2] += d["diamonds"]
            c[3] += d["held"]
            if d["stream_id"]:
                s = per_stream[(d["creator_id"], d["stream_id"])]
                s[0] += 1
                s[1] += d["diamonds"]
            per_day[(d["creator_id"], day)][0] += 1
            per_day[(d["creator_id"], day)][1] += d["diamonds"]
        elif e.type == "DiamondsReleased":
            creators[d["creator_id"]][3] -= d["diamonds"]
        elif e.type == "PayoutRequested":
            creators[d["creator_id"]][4] += d["diamonds"]
            payouts[d["payout_id"]][0] = True
        elif e.type == "PayoutCompleted":
            creators[d["creator_id"]][4] -= d["diamonds"]
            creators[d["creator_id"]][5] += d["diamonds"]
            per_day[(d["creator_id"], day)][2] += d["diamonds"]
            payouts[d["payout_id"]][1] = True
        elif e.type == "PayoutFailed":
            creators[d["creator_id"]][4] -= d["diamonds"]
            payouts[d["payout_id"]][2] = True
        else:
            continue
        if e.type in WALLET_EVENTS:
            user = d.get("user_id") or d.get("sender_id") or d.get("payer_id") or d["fan_id"]
            wallets[user][5] += 1
            statements[user][0] += 1
        if e.type.startswith(("Diamonds", "Payout")) and e.type not in (
            "PayoutApproved",
            "PayoutSubmitted",
            "PayoutMethodSet",
        ):
            creators[d["creator_id"]][6] += 1
    return {
        "wallet_balances": {k: tuple(v) for k, v in wallets.items()},
        "wallet_statements": {k: tuple(v) for k, v in statements.items()},
        "creator_earnings": {k: tuple(v) for k, v in creators.items()},
        "creator_stream_earnings": {k: tuple(v) for k, v in per_stream.items()},
        "creator_daily_earnings": {k: tuple(v) for k, v in per_day.items()},
        "stream_gifters": {k: tuple(v) for k, v in gifters.items()},
        "stream_combos": {k: tuple(v) for k, v in combos.items()},
        "item_unlocks": {k: tuple(v[:3]) for k, v in items.items()},
        "purchases": {k: tuple(v) for k, v in purchases.items()},
        "platform_commission_daily": {k: tuple(v) for k, v in commission.items()},
        "payouts": {k: tuple(v) for k, v in payouts.items()},
        "projected_events": {"events": (len(unique),)},
    }


# One query per table: a key (one or two columns) and the figures `expected` computes.
ORACLE_QUERIES = {
    "wallet_balances": "SELECT user_id, purchased, clawed_back, gifted, unlocked, balance, events"
    " FROM wallet_balances",
    "wallet_statements": "SELECT user_id, count(*), sum(coins) FROM wallet_statements"
    " GROUP BY user_id",
    "creator_earnings": "SELECT creator_id, gifts_received, coins_received, diamonds_earned,"
    " diamonds_held, diamonds_pending, diamonds_paid, events"
    " FROM creator_earnings",
    "creator_stream_earnings": "SELECT creator_id, stream_id, credits, diamonds"
    " FROM creator_stream_earnings",
    "creator_daily_earnings": "SELECT creator_id, day, credits, diamonds_earned, diamonds_paid"
    " FROM creator_daily_earnings",
    "stream_gifters": "SELECT stream_id, sender_id, gifts, coins FROM stream_gifters",
    "stream_combos": "SELECT stream_id, combo_id, gifts, coins, max_combo_count FROM stream_combos",
    "item_unlocks": "SELECT item_id, unlocks, coins, title FROM item_unlocks",
    "purchases": "SELECT purchase_id, created_at IS NOT NULL, confirmed_at IS NOT NULL,"
    " declined_at IS NOT NULL, clawed_back_coins, refund_minor, refund_id"
    " FROM purchases",
    "platform_commission_daily": "SELECT day, source, events, coins, commission_coins"
    " FROM platform_commission_daily",
    "payouts": "SELECT payout_id, requested_at IS NOT NULL, completed_at IS NOT NULL,"
    " failed_at IS NOT NULL FROM payouts",
    "projected_events": "SELECT 'events', count(*) FROM projected_events",
}
KEY_WIDTH = {
    "creator_stream_earnings": 2,
    "creator_daily_earnings": 2,
    "stream_gifters": 2,
    "stream_combos": 2,
    "platform_commission_daily": 2,
}


async def actual(conn, keys: set[str] | None = None) -> dict[str, dict]:
    """The same figures read back from the tables, shaped like `expected()`."""
    out = {}
    for name, sql in ORACLE_QUERIES.items():
        if keys is not None and name not in keys:
            continue
        width = KEY_WIDTH.get(name, 1)
        rows = await conn.fetch(sql)
        out[name] = {(tuple(r[:width]) if width > 1 else r[0]): tuple(r[width:]) for r in rows}
    return out


def differences(want: dict[str, dict], got: dict[str, dict], limit: int = 5) -> list[str]:
    """Human-readable mismatches per table (empty when every model counts every event once)."""
    found = []
    for name, rows in want.items():
        have = got.get(name, {})
        bad = [k for k in rows.keys() | have.keys() if rows.get(k) != have.get(k)]
        found += [
            f"{name}[{k}]: expected {rows.get(k)}, table has {have.get(k)}"
            for k in sorted(bad, key=str)[:limit]
        ]
    return found


async def publish(settings, messages: list[Published]) -> None:
    """Sends the messages in order (key = aggregate id, as the outbox relays do)."""
    from eventkit.kafka import producer
    from eventkit.signing import owner_headers

    out = producer(settings, "admin")  # publishes every topic's messages
    await out.start()
    try:
        pending = []
        for m in messages:
            value = m.value()
            headers = owner_headers(settings, m.topic, value, m.key)
            pending.append(
                await out.send(settings.topic(m.topic), value, key=m.key, headers=headers)
            )
        for fut in pending:
            await fut
    finally:
        await out.stop()


async def snapshot(pool) -> dict[str, list[tuple]]:
    """Every read-model table, every column, in key order (rebuild = live comparisons)."""
    out = {}
    for model in READ_MODELS.values():
        for table in model.tables:
            keys = ", ".join(c.name for c in table.key)
            out[table.name] = [
                tuple(r) for r in await pool.fetch(f"SELECT * FROM {table.name} ORDER BY {keys}")
            ]
    return out
