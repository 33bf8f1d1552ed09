"""Account facts published by the (external) account service; consumers learn the country,
birthdate and account type of users who are not the caller (e.g. a gift's recipient)."""

from datetime import date
from typing import Literal

from schemas.events.base import Payload
from schemas.money import Country
from schemas.text import Id


class AccountProfileUpdated(Payload):
    event_type = "AccountProfileUpdated"

    user_id: Id
    country: Country
    birthdate: date
    account_type: Literal["personal", "creator", "business", "government", "political"]
    timezone: Id = "UTC"
