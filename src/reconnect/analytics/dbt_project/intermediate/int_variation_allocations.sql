with journeys as (
    select * from {{ ref('stg_reconnect__journeys') }}
),

allocations as (
    select
        campaign_id,
        variation_id,
        bool_or(is_control) as is_control,
        count(distinct user_key) as users_allocated,
        count(*) as journeys,
        min(trigger_time) as first_triggered_at,
        max(trigger_time) as last_triggered_at
    from journeys
    group by campaign_id, variation_id
)

select * from allocations
