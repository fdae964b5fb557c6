{#-
    In-window conversions of allocated users, measured the same way in every variation, the
    control included (R-AB-2, uplift): a purchase by the journey's person (the same user_id, or
    the same cuid) after the trigger and at most the campaign's attribution window after it.
    Click attribution (fct_attributed_purchases) cannot measure a control: it sends nothing.
-#}

with journeys as (
    select * from {{ ref('stg_reconnect__journeys') }}
),

campaigns as (
    select * from {{ ref('stg_reconnect__campaigns') }}
),

purchases as (
    select * from {{ ref('int_purchases') }}
),

journey_windows as (
    select
        journeys.campaign_id,
        journeys.variation_id,
        journeys.user_key,
        journeys.user_id,
        journeys.cuid,
        journeys.trigger_time,
        timestampadd(
            second,
            coalesce(
                campaigns.attribution_window_seconds,
                {{ var('default_attribution_window_seconds') }}
            ),
            journeys.trigger_time
        ) as window_ends_at
    from journeys
    left join campaigns
        on journeys.campaign_id = campaigns.campaign_id
),

by_user_id as (
    select
        journey_windows.campaign_id,
        journey_windows.variation_id,
        journey_windows.user_key,
        purchases.purchase_event_id,
        purchases.purchase_time,
        purchases.revenue,
        purchases.currency
    from journey_windows
    inner join purchases
        on
            journey_windows.user_id = purchases.user_id
            and journey_windows.trigger_time < purchases.purchase_time
            and journey_windows.window_ends_at >= purchases.purchase_time
),

by_cuid as (
    select
        journey_windows.campaign_id,
        journey_windows.variation_id,
        journey_windows.user_key,
        purchases.purchase_event_id,
        purchases.purchase_time,
        purchases.revenue,
        purchases.currency
    from journey_windows
    inner join purchases
        on
            journey_windows.cuid = purchases.cuid
            and journey_windows.trigger_time < purchases.purchase_time
            and journey_windows.window_ends_at >= purchases.purchase_time
),

matched as (
    select * from by_user_id
    union all
    select * from by_cuid
),

ranked as (
    select
        *,
        -- One row per purchase and variation, however many of its journeys' windows (or both
        -- the user_id and the cuid match) hold it: the smallest user_key keeps it.
        row_number() over (
            partition by campaign_id, variation_id, purchase_event_id
            order by user_key
        ) as match_number
    from matched
),

conversions as (
    select
        campaign_id,
        variation_id,
        purchase_event_id,
        user_key,
        purchase_time,
        revenue,
        currency
    from ranked
    where match_number = 1
)

select * from conversions
