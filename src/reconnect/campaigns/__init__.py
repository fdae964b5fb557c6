"""Campaign definitions: one YAML file per campaign, validated into typed, frozen objects.

The package's public seam; stages import from here, never from its modules (README.md lists them).
"""

from reconnect.campaigns.columns import audience, exit_flag, product_ok, trigger_flag
from reconnect.campaigns.compiler import compile_change, compile_condition, field_column
from reconnect.campaigns.conditions import AllOf, AnyOf, Compare, Condition, Not
from reconnect.campaigns.loader import (
    CampaignRow,
    campaign_files,
    campaign_rows,
    format_campaign_table,
    load_campaigns,
)
from reconnect.campaigns.types import (
    BUCKETS,
    CAMPAIGN_CLASSES,
    Campaign,
    CartAbandonmentCampaign,
    CustomCampaign,
    PriceDropCampaign,
    ProductAttributeChangeCampaign,
    ProductViewCampaign,
    ScheduledCampaign,
    SlotCampaign,
    UserAttributeChangeCampaign,
    WaitingCampaign,
    load_campaign_file,
    parse_campaign,
)
from reconnect.campaigns.validation import CampaignError, Problem
from reconnect.lake.feed_state import attributes_map

__all__ = [
    "BUCKETS",
    "CAMPAIGN_CLASSES",
    "AllOf",
    "AnyOf",
    "Campaign",
    "CampaignError",
    "CampaignRow",
    "CartAbandonmentCampaign",
    "Compare",
    "Condition",
    "CustomCampaign",
    "Not",
    "PriceDropCampaign",
    "Problem",
    "ProductAttributeChangeCampaign",
    "ProductViewCampaign",
    "ScheduledCampaign",
    "SlotCampaign",
    "UserAttributeChangeCampaign",
    "WaitingCampaign",
    "attributes_map",
    "audience",
    "campaign_files",
    "campaign_rows",
    "compile_change",
    "compile_condition",
    "exit_flag",
    "field_column",
    "format_campaign_table",
    "load_campaign_file",
    "load_campaigns",
    "parse_campaign",
    "product_ok",
    "trigger_flag",
]
