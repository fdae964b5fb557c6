{#-
    The campaign report (R-ATTR-2, R-STEP-2): one row per campaign, variation and step name.
    Step columns count that step's messages and the purchases credited to its clicks
    (last click: totals add up across steps and campaigns). Variation columns (users_allocated,
    the in-window conversions and the uplift against the control) repeat on each step row of
    the variation: never sum them over steps. docs/analytics.md explains every column.
-#}
{{ config(materialized='table') }}

{%- set channels = var('channels') %}
{%- set reasons = var('reason_codes') %}
{%- set step_keys = ['campaign_id', 'variation_id', 'step_name'] %}
{%- set variation_keys = ['campaign_id', 'variation_id'] %}

with steps as (
    select * from {{ ref('dim_campaign_steps') }}
),

variations as (
    select * from {{ ref('dim_campaign_variations') }}
),

campaigns as (
    select * from {{ ref('dim_campaigns') }}
),

messages as (
    select * from {{ ref('fct_messages') }}
),

attributed as (
    select * from {{ ref('fct_attributed_purchases') }}
),

allocations as (
    select * from {{ ref('int_variation_allocations') }}
),

conversions as (
    select * from {{ ref('int_variation_conversions') }}
),

step_messages as (
    select
        steps.campaign_id,
        steps.variation_id,
        steps.step_name,
        count(messages.message_id) as messages_due,
        count_if(messages.is_sent) as sent,
        {%- for channel in channels %}
            count_if(messages.is_sent and messages.channel = '{{ channel }}') as sent_{{ channel }},
        {%- endfor %}
        count_if(messages.state = 'SUPPRESSED') as suppressed,
        count_if(messages.state = 'CANCELLED') as cancelled,
        count_if(messages.state = 'SUPERSEDED') as superseded,
        {%- for reason in reasons %}
            count_if(messages.reason = '{{ reason }}') as not_sent_{{ reason | lower }},
        {%- endfor %}
        count_if(messages.is_late_cancelled) as late_cancels,
        count_if(messages.is_sent and messages.is_opened) as opens,
        count_if(messages.is_sent and messages.is_clicked) as clicks,
        -- E-mail is the channel whose opens are tracked (a pixel): its click-to-open rate.
        count_if(messages.is_sent and messages.channel = 'email' and messages.is_opened)
            as email_opens,
        count_if(messages.is_sent and messages.channel = 'email' and messages.is_clicked)
            as email_clicks
    from steps
    left join messages
        on
            steps.campaign_id = messages.campaign_id
            and steps.variation_id = messages.variation_id
            and steps.step_name = messages.step_name
    group by steps.campaign_id, steps.variation_id, steps.step_name
),

step_purchases as (
    select
        steps.campaign_id,
        steps.variation_id,
        steps.step_name,
        count_if(attributed.attribution = 'last_click') as purchases,
        count_if(attributed.attribution = 'per_campaign') as per_campaign_purchases
    from steps
    left join attributed
        on
            steps.campaign_id = attributed.campaign_id
            and steps.variation_id = attributed.variation_id
            and steps.step_name = attributed.step_name
    group by steps.campaign_id, steps.variation_id, steps.step_name
),

step_revenue as (
    {{ revenue_by_currency('attributed', step_keys, "attribution = 'last_click'") }}
),

step_per_campaign_revenue as (
    {{ revenue_by_currency('attributed', step_keys, "attribution = 'per_campaign'") }}
),

variation_conversions as (
    select
        campaign_id,
        variation_id,
        count(distinct user_key) as converting_users,
        count(*) as conversions
    from conversions
    group by campaign_id, variation_id
),

variation_conversion_revenue as (
    {{ revenue_by_currency('conversions', variation_keys) }}
),

variation_totals as (
    select
        variations.campaign_id,
        variations.variation_id,
        variations.is_control,
        coalesce(allocations.users_allocated, 0) as users_allocated,
        coalesce(variation_conversions.converting_users, 0) as converting_users,
        coalesce(variation_conversions.conversions, 0) as conversions,
        case
            when variation_conversion_revenue.revenue_by_currency is null
                then cast(0 as decimal(28, 4))
            else variation_conversion_revenue.revenue
        end as conversion_revenue,
        variation_conversion_revenue.revenue_currency as conversion_revenue_currency,
        variation_conversion_revenue.revenue_by_currency as conversion_revenue_by_currency
    from variations
    left join allocations
        on
            variations.campaign_id = allocations.campaign_id
            and variations.variation_id = allocations.variation_id
    left join variation_conversions
        on
            variations.campaign_id = variation_conversions.campaign_id
            and variations.variation_id = variation_conversions.variation_id
    left join variation_conversion_revenue
        on
            variations.campaign_id = variation_conversion_revenue.campaign_id
            and variations.variation_id = variation_conversion_revenue.variation_id
),

variation_rates as (
    select
        *,
        converting_users / nullif(users_allocated, 0) as conversion_rate,
        conversions / nullif(users_allocated, 0) as conversions_per_allocated_user,
        cast(conversion_revenue / nullif(users_allocated, 0) as decimal(18, 4))
            as conversion_revenue_per_allocated_user
    from variation_totals
),

controls as (
    -- The campaign's control variation, when it has exactly one (R-AB-2).
    select
        campaign_id,
        min(variation_id) as control_variation_id
    from variations
    where is_control
    group by campaign_id
    having count(*) = 1
),

variation_uplift as (
    select
        variation_rates.*,
        controls.control_variation_id,
        case
            when variation_rates.is_control or controls.control_variation_id is null then null
            when control.conversions_per_allocated_user = 0 then null
            else
                (
                    variation_rates.conversions_per_allocated_user
                    - control.conversions_per_allocated_user
                )
                / control.conversions_per_allocated_user
        end as uplift_conversions_per_user,
        case
            when variation_rates.is_control or controls.control_variation_id is null then null
            -- Revenue in several currencies, or not in the control's: not comparable.
            when variation_rates.conversion_revenue is null then null
            when control.conversion_revenue is null then null
            when variation_rates.conversion_revenue_currency != control.conversion_revenue_currency
                then null
            when control.conversion_revenue_per_allocated_user = 0 then null
            else
                cast(
                    (
                        variation_rates.conversion_revenue_per_allocated_user
                        - control.conversion_revenue_per_allocated_user
                    )
                    / control.conversion_revenue_per_allocated_user as double
                )
        end as uplift_conversion_revenue_per_user
    from variation_rates
    left join controls
        on variation_rates.campaign_id = controls.campaign_id
    left join variation_rates as control
        on
            controls.campaign_id = control.campaign_id
            and controls.control_variation_id = control.variation_id
),

final as (
    select
        steps.campaign_id,
        campaigns.campaign_name,
        campaigns.campaign_type,
        campaigns.primary_metric,
        steps.variation_id,
        coalesce(variation_uplift.is_control, steps.is_control) as is_control,
        variation_uplift.control_variation_id,
        steps.step_number,
        steps.step_name,
        variation_uplift.users_allocated,
        step_messages.messages_due,
        step_messages.sent,
        {%- for channel in channels %}
            step_messages.sent_{{ channel }},
        {%- endfor %}
        step_messages.suppressed,
        step_messages.cancelled,
        step_messages.superseded,
        {%- for reason in reasons %}
            step_messages.not_sent_{{ reason | lower }},
        {%- endfor %}
        step_messages.late_cancels,
        step_messages.opens,
        step_messages.clicks,
        step_messages.clicks / nullif(step_messages.sent, 0) as ctr,
        step_messages.email_opens,
        step_messages.email_clicks,
        step_messages.email_opens / nullif(step_messages.sent_email, 0) as email_open_rate,
        step_messages.email_clicks / nullif(step_messages.email_opens, 0)
            as email_click_to_open_rate,
        step_purchases.purchases,
        case
            when step_revenue.revenue_by_currency is null then cast(0 as decimal(28, 4))
            else step_revenue.revenue
        end as revenue,
        step_revenue.revenue_currency,
        step_revenue.revenue_by_currency,
        step_purchases.purchases / nullif(variation_uplift.users_allocated, 0)
            as purchases_per_allocated_user,
        cast(
            case
                when step_revenue.revenue_by_currency is null then 0
                else step_revenue.revenue
            end / nullif(variation_uplift.users_allocated, 0) as decimal(18, 4)
        ) as revenue_per_allocated_user,
        step_purchases.per_campaign_purchases,
        case
            when step_per_campaign_revenue.revenue_by_currency is null
                then cast(0 as decimal(28, 4))
            else step_per_campaign_revenue.revenue
        end as per_campaign_revenue,
        step_per_campaign_revenue.revenue_currency as per_campaign_revenue_currency,
        variation_uplift.converting_users,
        variation_uplift.conversions,
        variation_uplift.conversion_revenue,
        variation_uplift.conversion_revenue_currency,
        variation_uplift.conversion_revenue_by_currency,
        variation_uplift.conversion_rate,
        variation_uplift.conversions_per_allocated_user,
        variation_uplift.conversion_revenue_per_allocated_user,
        variation_uplift.uplift_conversions_per_user,
        variation_uplift.uplift_conversion_revenue_per_user
    from steps
    left join campaigns
        on steps.campaign_id = campaigns.campaign_id
    left join variation_uplift
        on
            steps.campaign_id = variation_uplift.campaign_id
            and steps.variation_id = variation_uplift.variation_id
    inner join step_messages
        on
            steps.campaign_id = step_messages.campaign_id
            and steps.variation_id = step_messages.variation_id
            and steps.step_name = step_messages.step_name
    inner join step_purchases
        on
            steps.campaign_id = step_purchases.campaign_id
            and steps.variation_id = step_purchases.variation_id
            and steps.step_name = step_purchases.step_name
    left join step_revenue
        on
            steps.campaign_id = step_revenue.campaign_id
            and steps.variation_id = step_revenue.variation_id
            and steps.step_name = step_revenue.step_name
    left join step_per_campaign_revenue
        on
            steps.campaign_id = step_per_campaign_revenue.campaign_id
            and steps.variation_id = step_per_campaign_revenue.variation_id
            and steps.step_name = step_per_campaign_revenue.step_name
)

select * from final
