"""Campaign definitions: one YAML file per campaign, validated into typed, frozen objects.

- :mod:`.model`: the campaign types and their settings (docs/campaigns.md field by field).
- :mod:`.conditions`: the condition language (R-TRIG-1) and its compilation to Spark Columns.
- :mod:`.loader`: a folder of files -> campaigns, or one :class:`CampaignError` listing every
  problem.
"""

from reconnect.campaigns.columns import audience, exit_flag, product_ok, trigger_flag
from reconnect.campaigns.conditions import (
    AllOf,
    AnyOf,
    Compare,
    Condition,
    Not,
    compile_change,
    compile_condition,
    field_column,
)
from reconnect.campaigns.loader import (
    CampaignError,
    CampaignRow,
    Problem,
    campaign_files,
    campaign_rows,
    format_campaign_table,
    load_campaign_file,
    load_campaigns,
    parse_campaign,
)
from reconnect.campaigns.model import (
    BUCKETS,
    CAMPAIGN_TYPES,
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
)
from reconnect.lake.feed_state import attributes_map

__all__ = [
    "BUCKETS",
    "CAMPAIGN_TYPES",
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
