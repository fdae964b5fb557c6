{#-
    The A/B inputs of each campaign's verdict (R-ATTR-3): one row per campaign and variation
    with the counts the primary metric compares. Per-user metrics use the in-window conversions
    (int_variation_conversions), which a control has as well; revenue_sum and
    revenue_sum_squares are the sum and the sum of squares of each allocated user's in-window
    revenue (users who did not buy add 0). CTR uses the sends and the sends clicked at least
    once. The verdict itself is computed by `reconnect models build` after dbt
    (rpt_variation_winners).
-#}
{{ config(materialized='table') }}

with variations as (
    select * from {{ ref('dim_campaign_variations') }}
),

campaigns as (
    select * from {{ ref('dim_campaigns') }}
),

allocations as (
    select * from {{ ref('int_variation_allocations') }}
),

conversions as (
    select * from {{ ref('int_variation_conversions') }}
),

messages as (
    select * from {{ ref('fct_messages') }}
),

per_user as (
    select
        campaign_id,
        variation_id,
        user_key,
        cast(sum(coalesce(revenue, 0)) as double) as revenue
    from conversions
    group by campaign_id, variation_id, user_key
),

per_variation as (
    select
        campaign_id,
        variation_id,
        count(*) as converting_users,
        sum(revenue) as revenue_sum,
        sum(revenue * revenue) as revenue_sum_squares
    from per_user
    group by campaign_id, variation_id
),

sends as (
    select
        campaign_id,
        variation_id,
        count_if(is_sent) as sends,
        count_if(is_sent and is_clicked) as clicked_sends
    from messages
    group by campaign_id, variation_id
),

final as (
    select
        variations.campaign_id,
        variations.variation_id,
        variations.is_control,
        campaigns.primary_metric,
        coalesce(allocations.users_allocated, 0) as users_allocated,
        coalesce(per_variation.converting_users, 0) as converting_users,
        coalesce(per_variation.revenue_sum, 0) as revenue_sum,
        coalesce(per_variation.revenue_sum_squares, 0) as revenue_sum_squares,
        coalesce(sends.sends, 0) as sends,
        coalesce(sends.clicked_sends, 0) as clicked_sends
    from variations
    left join campaigns
        on variations.campaign_id = campaigns.campaign_id
    left join allocations
        on
            variations.campaign_id = allocations.campaign_id
            and variations.variation_id = allocations.variation_id
    left join per_variation
        on
            variations.campaign_id = per_variation.campaign_id
            and variations.variation_id = per_variation.variation_id
    left join sends
        on
            variations.campaign_id = sends.campaign_id
            and variations.variation_id = sends.variation_id
)

select * from final
