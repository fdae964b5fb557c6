{{ config(materialized='table') }}

with configured as (
    select * from {{ ref('stg_reconnect__campaigns') }}
),

journeys as (
    select * from {{ ref('stg_reconnect__journeys') }}
),

seen as (
    -- Campaigns with journeys, configured or not (a removed file keeps its history).
    select
        campaign_id,
        max_by(campaign_type, trigger_time) as campaign_type
    from journeys
    group by campaign_id
),

campaigns as (
    select
        coalesce(configured.campaign_id, seen.campaign_id) as campaign_id,
        coalesce(configured.campaign_type, seen.campaign_type) as campaign_type,
        configured.campaign_name,
        configured.campaign_status,
        configured.priority,
        configured.timezone,
        configured.channels,
        configured.caps,
        configured.primary_metric,
        coalesce(
            configured.attribution_window_seconds,
            {{ var('default_attribution_window_seconds') }}
        ) as attribution_window_seconds,
        configured.wait_seconds,
        configured.watch_window_seconds,
        coalesce(configured.cancel_all_others, false) as cancel_all_others,
        configured.variation_count,
        configured.campaign_id is not null as is_configured
    from configured
    full outer join seen
        on configured.campaign_id = seen.campaign_id
)

select * from campaigns
