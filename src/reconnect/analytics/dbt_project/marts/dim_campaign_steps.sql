{{ config(materialized='table') }}

with configured as (
    select * from {{ ref('stg_reconnect__campaign_steps') }}
),

messages as (
    select * from {{ ref('stg_reconnect__messages') }}
),

seen as (
    -- Steps with messages, by name (R-STEP-2), configured or not.
    select
        campaign_id,
        variation_id,
        step_name,
        min(step_number) as step_number,
        bool_or(is_control) as is_control
    from messages
    group by campaign_id, variation_id, step_name
),

steps as (
    select
        coalesce(configured.campaign_id, seen.campaign_id) as campaign_id,
        coalesce(configured.variation_id, seen.variation_id) as variation_id,
        coalesce(configured.step_name, seen.step_name) as step_name,
        coalesce(configured.step_number, seen.step_number) as step_number,
        coalesce(configured.is_control, seen.is_control) as is_control,
        configured.channels,
        configured.wait_seconds,
        configured.offset_seconds,
        configured.campaign_id is not null as is_configured
    from configured
    full outer join seen
        on
            configured.campaign_id = seen.campaign_id
            and configured.variation_id = seen.variation_id
            and configured.step_name = seen.step_name
)

select * from steps
