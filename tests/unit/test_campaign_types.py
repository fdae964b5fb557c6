"""A campaign type is declared once: its class in CAMPAIGN_CLASSES, its traits in the vocabulary.

The toy type below proves that, for the campaigns layer, those two registries are the only
places to touch (docs/extending.md, "A campaign type").
"""

from __future__ import annotations

from typing import ClassVar, Literal

import pytest

from reconnect import vocabulary
from reconnect.campaigns import (
    CAMPAIGN_CLASSES,
    CampaignError,
    WaitingCampaign,
    campaign_rows,
    load_campaign_file,
    load_campaigns,
    parse_campaign,
)
from reconnect.vocabulary import CAMPAIGN_TYPES, CampaignType


def test_the_classes_and_the_traits_name_the_same_types():
    assert set(CAMPAIGN_CLASSES) == set(CAMPAIGN_TYPES)


def test_a_campaign_reads_its_traits_from_the_vocabulary():
    for name, cls in CAMPAIGN_CLASSES.items():
        assert cls.type_name() == name
    cart = parse_campaign({"id": "c", "type": "cart_abandonment", "channels": ["email"],
                           "steps": [{"name": "only"}]})  # fmt: skip
    assert cart.traits is CAMPAIGN_TYPES["cart_abandonment"]
    assert cart.traits.carries_products and cart.traits.keyed_by == "user"


class WishlistCampaign(WaitingCampaign):
    """A toy type: R-TYPE-CUSTOM's shape under another name."""

    type: Literal["wishlist"]
    DEFAULT_COPY: ClassVar[tuple[str, str]] = ("Still on your list", "{{product.name}} waits.")


WISHLIST = CampaignType("wishlist", "user", "event", "wait", True, "trigger_product")


@pytest.fixture
def wishlist(monkeypatch: pytest.MonkeyPatch) -> None:
    """The toy type registered in both registries for one test, and only there."""
    monkeypatch.setitem(CAMPAIGN_CLASSES, "wishlist", WishlistCampaign)
    monkeypatch.setitem(vocabulary.CAMPAIGN_TYPES, "wishlist", WISHLIST)


def test_a_new_type_loads_validates_and_lists_once_registered(wishlist, tmp_path):
    (tmp_path / "wish.yaml").write_text(
        "id: wish\ntype: wishlist\nwait: 2h\nchannels: [email]\nsteps:\n  - name: nudge\n"
    )
    campaign = load_campaign_file(tmp_path / "wish.yaml")
    assert isinstance(campaign, WishlistCampaign)
    assert campaign.traits is WISHLIST
    email = campaign.variations[0].steps[0].templates["email"]
    assert (email.subject, email.body) == WishlistCampaign.DEFAULT_COPY  # the class's own default
    (row,) = campaign_rows(load_campaigns(tmp_path))
    assert (row.id, row.type, row.steps) == ("wish", "wishlist", (1,))


def test_a_new_type_is_validated_like_the_others(wishlist):
    with pytest.raises(CampaignError) as e:
        parse_campaign({"id": "wish", "type": "wishlist", "wait": "1m", "channels": ["email"],
                        "steps": [{"name": "nudge"}]})  # fmt: skip
    assert "(campaign wish): wait: expected a wait from 5m to 90d (R-TRIG-2); got 1m" in str(
        e.value
    )


def test_an_unregistered_type_is_refused_with_the_registered_ones():
    with pytest.raises(CampaignError) as e:
        parse_campaign({"id": "wish", "type": "wishlist", "channels": ["email"],
                        "steps": [{"name": "nudge"}]})  # fmt: skip
    assert "type: expected one of cart_abandonment, product_view" in str(e.value)
