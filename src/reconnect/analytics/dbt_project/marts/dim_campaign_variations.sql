{{ config(materialized='table') }}

with configured as (
    select * from {{ ref('stg_reconnect__campaign_variations') }}
),

journeys as (
    select * from {{ ref('stg_reconnect__journeys') }}
),

seen as (
    select
        campaign_id,
        variation_id,
        bool_or(is_control) as is_control
    from journeys
    group by campaign_id, variation_id
),

variations as (
    select
        coalesce(configured.campaign_id, seen.campaign_id) as campaign_id,
        coalesce(configured.variation_id, seen.variation_id) as variation_id,
        configured.variation_number,
        coalesce(configured.is_control, seen.is_control) as is_control,
        configured.weight,
        configured.bucket_start,
        configured.bucket_end,
        configured.step_count,
        configured.campaign_id is not null as is_configured
    from configured
    full outer join seen
        on
            configured.campaign_id = seen.campaign_id
            and configured.variation_id = seen.variation_id
)

select * from variations
